import { type Hex, hexToBytes } from 'viem'
import type { LeaderRuntime, SharedRuntime } from '../api/AppContext.js'
import type { Config } from '../config/settings.js'
import { type DecodedSubmission, decodeSubmission } from './decodeSubmission.js'
import { SubmissionRejectedError, TooManyPendingSubmissionsError } from './errors.js'
import { mapNodeRefusal } from './mapNodeRefusal.js'
import { countPending, findSubmission, type SubmissionRecord } from './submissionStore.js'

/**
 * Checks a client's signed transaction, forwards it to the node and records it — in that order,
 * so that nothing is recorded as sent that the node did not take. A repeat of a recorded
 * submission answers the record (re-sending it to the node if it is still pending); a node that
 * already has the transaction, or has mined it, is a success, so a client whose earlier attempt
 * got no answer can always send the same bytes again.
 */
export async function submitTransaction(
  runtime: LeaderRuntime,
  config: Pick<Config, 'maxRawTransactionBytes' | 'maxPendingSubmissionsPerClient'>,
  clientId: Hex,
  raw: Hex,
  logger: { debug(details: object, message: string): void },
  options: { requireInterest: boolean } = { requireInterest: true },
): Promise<{ record: SubmissionRecord; created: boolean }> {
  const submission = await decodeSubmission(raw.toLowerCase() as Hex, {
    chainId: runtime.chainId,
    maxBytes: config.maxRawTransactionBytes,
  })
  const existing = await findSubmission(runtime.db, clientId, submission.hash)
  if (existing && existing.status !== 'dropped') {
    if (existing.status === 'pending') {
      await runtime.node
        .request('eth_sendRawTransaction', [submission.raw])
        .catch((error: unknown) => logger.debug({ err: error }, 'repeat of a pending submission not re-sent'))
    }
    return { record: existing, created: false }
  }
  const clientContractId = await interestOf(runtime, clientId, submission, options.requireInterest)
  if ((await countPending(runtime.db, clientId)) >= config.maxPendingSubmissionsPerClient) {
    throw new TooManyPendingSubmissionsError(config.maxPendingSubmissionsPerClient)
  }
  // Metered per call of the node, accepted or not: that is the work the client causes.
  runtime.usage.add(clientId, 'submissions')
  await forward(runtime, submission)
  const change = await runtime.submissions.record(submission, clientId, clientContractId)
  // Undefined: an identical request recorded it a moment ago; that record is the answer.
  const record = change ?? (await findSubmission(runtime.db, clientId, submission.hash))
  if (!record) throw new Error(`submission ${submission.hash} vanished while it was recorded`)
  return { record, created: change !== undefined }
}

/**
 * The client's interest the transaction is for: the contract it calls, or for a contract
 * creation the address the new contract gets (a creation is accepted without an interest in it).
 */
async function interestOf(
  runtime: SharedRuntime,
  clientId: Hex,
  submission: DecodedSubmission,
  required: boolean,
): Promise<number | null> {
  const address = submission.to ?? submission.creates
  const row = address
    ? await runtime.db
        .selectFrom('client_contracts')
        .select('id')
        .where('client_id', '=', hexToBytes(clientId))
        .where('address', '=', hexToBytes(address))
        .executeTakeFirst()
    : undefined
  if (row) return Number(row.id)
  // A wallet on the JSON-RPC endpoint sends wherever it likes; its submission is tracked all the same.
  if (submission.to === null || !required) return null
  throw new SubmissionRejectedError(
    'TX_NOT_FOR_INTEREST',
    `The transaction is to ${submission.to}, which is not one of this client's interests; register the interest first`,
    400,
    { to: submission.to },
  )
}

async function forward(runtime: SharedRuntime, submission: DecodedSubmission): Promise<void> {
  try {
    await runtime.node.request<Hex>('eth_sendRawTransaction', [submission.raw])
  } catch (error) {
    const answer = mapNodeRefusal(error)
    if (answer.kind === 'known') return
    if (answer.kind === 'nonce-too-low') {
      // Mined already — most likely an earlier attempt whose answer was lost: track it.
      const receipt = await runtime.node
        .request<unknown>('eth_getTransactionReceipt', [submission.hash])
        .catch(() => null)
      if (receipt) return
    }
    throw answer.error
  }
}
