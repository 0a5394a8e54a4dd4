import type { ErrorCode } from '@wallet-backend/sdk/protocol'
import { RpcResponseError } from '../chain/rpc/errors.js'
import { SubmissionNodeUnavailableError, SubmissionRejectedError } from './errors.js'

export type NodeAnswer =
  /** The node has the transaction already (a repeat): as good as accepted. */
  | { kind: 'known' }
  /** The sender's nonce is past this transaction's: it may have been mined already. */
  | { kind: 'nonce-too-low'; error: SubmissionRejectedError }
  | { kind: 'refused'; error: SubmissionRejectedError | SubmissionNodeUnavailableError }

/**
 * Node implementations word their refusals differently (geth, reth, erigon, Nethermind, anvil,
 * hosted nodes in front of them) and share no error codes for them, so the message is what can
 * be matched; the first rule that matches wins, and what none matches is passed on as
 * TX_REJECTED with the node's words.
 */
const RULES: { pattern: RegExp; code: ErrorCode; status: number; message: string }[] = [
  {
    pattern: /nonce too low|nonce has already been used|oldnonce/i,
    code: 'NONCE_TOO_LOW',
    status: 409,
    message: 'The sender has already used this nonce',
  },
  {
    pattern: /nonce too high|nonce gap|futurenonce/i,
    code: 'NONCE_TOO_HIGH',
    status: 409,
    message: 'The nonce is ahead of the sender’s next nonce',
  },
  {
    pattern:
      /replacement (transaction )?underpriced|replacementnotallowed|already known.*higher|fee too low to replace/i,
    code: 'REPLACEMENT_UNDERPRICED',
    status: 409,
    message: 'A pending transaction of the sender has this nonce; a replacement must pay a higher fee',
  },
  {
    pattern: /insufficient funds|insufficient balance|insufficientfunds/i,
    code: 'INSUFFICIENT_FUNDS',
    status: 400,
    message: 'The sender cannot pay for gas × price + value',
  },
  {
    pattern:
      /less than block base fee|fee cap less than|underpriced|feetoolow|gas price too low|max priority fee per gas higher/i,
    code: 'FEE_TOO_LOW',
    status: 400,
    message: 'The fee is below what the node accepts (base fee or minimum tip)',
  },
  {
    pattern: /intrinsic gas too low|gas too low|gaslimittoolow/i,
    code: 'GAS_TOO_LOW',
    status: 400,
    message: 'The gas limit is below the transaction’s intrinsic gas',
  },
  {
    pattern:
      /exceeds block gas limit|gas limit reached|gas_limit > env\.block\.gas_limit|intrinsic gas too high/i,
    code: 'GAS_LIMIT_TOO_HIGH',
    status: 400,
    message: 'The gas limit exceeds the block gas limit',
  },
  {
    pattern: /invalid chain id|chain ?id mismatch|invalid sender/i,
    code: 'TX_WRONG_CHAIN',
    status: 400,
    message: 'The node refused the transaction’s chain id or signature',
  },
  {
    pattern: /failed to decode|rlp|invalid transaction|decode/i,
    code: 'TX_MALFORMED',
    status: 400,
    message: 'The node could not decode the transaction',
  },
  {
    pattern: /oversized|too large|exceeds .*size/i,
    code: 'TX_TOO_LARGE',
    status: 413,
    message: 'The node refused the transaction as too large',
  },
]

const KNOWN = /already known|already imported|alreadyknown|known transaction|already in (the )?(tx)?pool/i
const POOL_FULL = /txpool is full|pool is full|transaction pool is full|txpoolfull/i

/** What the node's answer to eth_sendRawTransaction means for the client. */
export function mapNodeRefusal(error: unknown): NodeAnswer {
  if (!(error instanceof RpcResponseError)) {
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs
    const seconds = typeof retryAfterMs === 'number' ? retryAfterMs / 1000 : 2
    const reason = error instanceof Error ? error.message : String(error)
    return { kind: 'refused', error: new SubmissionNodeUnavailableError(reason, seconds, error) }
  }
  const said = error.rpcMessage
  if (KNOWN.test(said)) return { kind: 'known' }
  if (POOL_FULL.test(said)) {
    return {
      kind: 'refused',
      error: new SubmissionNodeUnavailableError('its transaction pool is full', 10, error),
    }
  }
  const details = { node: said, rpcCode: error.rpcCode }
  const rule = RULES.find((candidate) => candidate.pattern.test(said))
  if (!rule) {
    return {
      kind: 'refused',
      error: new SubmissionRejectedError(
        'TX_REJECTED',
        `The node refused the transaction: ${said}`,
        400,
        details,
      ),
    }
  }
  const refusal = new SubmissionRejectedError(
    rule.code,
    `${rule.message} (node: ${said})`,
    rule.status,
    details,
  )
  return rule.code === 'NONCE_TOO_LOW'
    ? { kind: 'nonce-too-low', error: refusal }
    : { kind: 'refused', error: refusal }
}
