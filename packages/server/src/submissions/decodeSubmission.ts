import {
  type Address,
  getContractAddress,
  type Hex,
  keccak256,
  parseTransaction,
  recoverTransactionAddress,
} from 'viem'
import { SubmissionRejectedError } from './errors.js'

export type DecodedSubmission = {
  raw: Hex
  hash: Hex
  /** Lower case, like every address the backend stores. */
  from: Hex
  nonce: number
  /** Null for a contract creation. */
  to: Hex | null
  /** For a contract creation: the address the contract will have. */
  creates: Hex | null
  type: string
}

const lower = (address: Address) => address.toLowerCase() as Hex

/**
 * Decodes and checks a signed raw transaction before it goes anywhere near the node: well-formed,
 * signed, for this chain, not too large. Blob transactions are refused: their network form carries
 * the blobs (128 KiB each), which is beyond what this API relays.
 */
export async function decodeSubmission(
  raw: Hex,
  options: { chainId: number; maxBytes: number },
): Promise<DecodedSubmission> {
  const bytes = (raw.length - 2) / 2
  if (bytes > options.maxBytes) {
    throw new SubmissionRejectedError(
      'TX_TOO_LARGE',
      `The transaction is ${bytes} bytes; at most ${options.maxBytes} are accepted`,
      413,
      { bytes, limit: options.maxBytes },
    )
  }
  let tx: ReturnType<typeof parseTransaction>
  try {
    tx = parseTransaction(raw)
  } catch (error) {
    throw new SubmissionRejectedError('TX_MALFORMED', `Not a serialized transaction: ${firstLine(error)}`)
  }
  if (tx.type === 'eip4844') {
    throw new SubmissionRejectedError('TX_TYPE_UNSUPPORTED', 'Blob transactions (type 3) are not accepted')
  }
  if (tx.r === undefined || tx.s === undefined) {
    throw new SubmissionRejectedError('TX_UNSIGNED', 'The transaction carries no signature')
  }
  if (tx.chainId === undefined) {
    // A legacy transaction signed without EIP-155 is valid on every chain: relaying it would let
    // anyone replay it elsewhere, and it says nothing about which chain its sender meant.
    throw new SubmissionRejectedError(
      'TX_CHAIN_ID_MISSING',
      'The transaction is signed without a chain id (pre-EIP-155); sign it for this chain',
      400,
      { expected: options.chainId },
    )
  }
  if (tx.chainId !== options.chainId) {
    throw new SubmissionRejectedError(
      'TX_WRONG_CHAIN',
      `The transaction is for chain ${tx.chainId}; this backend serves chain ${options.chainId}`,
      400,
      { expected: options.chainId, actual: tx.chainId },
    )
  }
  let from: Hex
  try {
    from = lower(await recoverTransactionAddress({ serializedTransaction: raw as never }))
  } catch (error) {
    throw new SubmissionRejectedError(
      'TX_SIGNATURE_INVALID',
      `The signature does not recover: ${firstLine(error)}`,
    )
  }
  const nonce = tx.nonce ?? 0
  const to = tx.to ? lower(tx.to) : null
  return {
    raw,
    hash: keccak256(raw),
    from,
    nonce,
    to,
    creates: to === null ? lower(getContractAddress({ from, nonce: BigInt(nonce) })) : null,
    type: tx.type ?? 'legacy',
  }
}

function firstLine(error: unknown): string {
  const message =
    error instanceof Error
      ? ((error as { shortMessage?: string }).shortMessage ?? error.message)
      : String(error)
  return message.split('\n')[0]!.slice(0, 200)
}
