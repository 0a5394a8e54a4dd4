import type { DeliveryItem, Hex, SubmissionStatusChange } from '@wallet-backend/sdk'
import type { HoldingJudge } from './checkDeliveries.js'
import type { FinalChain, NodeReceipt } from './groundTruth.js'
import type { SoakSubmission } from './observations.js'

/**
 * The judge of a client's submitted transactions: the last `submitted-status` item held for each
 * must say what the final chain says — `included` or `final` in the block of its receipt with its
 * outcome (`final` only at or below the finalized block), `replaced` by the transaction of the
 * same nonce that the chain holds, else `pending` or `dropped`. Every transaction the backend
 * accepted must have one; no held item may be of a block the final chain does not have.
 */
export function submissionJudge(
  submissions: readonly SoakSubmission[],
  chain: FinalChain,
  finalized: number,
): HoldingJudge {
  const receipts = new Map<string, NodeReceipt>(
    chain.receipts.map((r) => [r.transactionHash.toLowerCase(), r]),
  )
  const canonical = new Set(chain.blocks.map((block) => block.hash.toLowerCase()))
  const mined = (hash: Hex) => receipts.get(hash.toLowerCase())
  return (held, problem) => {
    const last = new Map<string, DeliveryItem>()
    for (const item of held) {
      if (item.kind !== 'submitted-status') continue
      if (item.block && !canonical.has(item.block.hash.toLowerCase()))
        problem(
          'wrong',
          `${item.txHash} status at cursor ${item.cursor} is of block ${item.block.number} ${item.block.hash}, not on the final chain`,
        )
      const hash = item.txHash?.toLowerCase() ?? ''
      if ((last.get(hash)?.cursor ?? -1) < item.cursor) last.set(hash, item)
    }
    const ours = new Map(submissions.map((s) => [s.hash.toLowerCase(), s]))
    for (const hash of last.keys())
      if (!ours.has(hash)) problem('wrong', `a status of ${hash}, which this client did not submit`)
    let expected = 0
    for (const submission of ours.values()) {
      const item = last.get(submission.hash.toLowerCase())
      if (!item) {
        if (submission.accepted) {
          expected++
          problem('lost', `${submission.hash} was accepted and no status of it is held`)
        }
        continue
      }
      expected++
      const status = item.data as SubmissionStatusChange
      const receipt = mined(submission.hash)
      const taker = submissions.find(
        (s) => s.nonce === submission.nonce && s.hash !== submission.hash && mined(s.hash),
      )
      const says = `${submission.hash}: last status ${status.status} (cursor ${item.cursor}, block ${item.block?.number})`
      if (receipt) {
        const right =
          (status.status === 'included' ||
            (status.status === 'final' && Number(receipt.blockNumber) <= finalized)) &&
          item.block?.hash.toLowerCase() === receipt.blockHash.toLowerCase() &&
          status.outcome?.success === (receipt.status === '0x1')
        if (!right)
          problem(
            'wrong',
            `${says}; the chain has it in block ${Number(receipt.blockNumber)}, status ${receipt.status}`,
          )
      } else if (taker) {
        if (status.status !== 'replaced' || status.replacedBy?.toLowerCase() !== taker.hash.toLowerCase())
          problem('wrong', `${says}; the chain has ${taker.hash} of the same nonce`)
      } else if (status.status !== 'pending' && status.status !== 'dropped') {
        problem('wrong', `${says}; the final chain does not have it`)
      }
    }
    return { expected }
  }
}
