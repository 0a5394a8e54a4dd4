import type { Hex } from 'viem'
import type { RpcReceipt } from '../chain/types.js'
import type { QueueItem } from '../delivery/DeliveryQueue.js'
import type { Outcome, Transition } from './submissionStore.js'

/** Why a status changed, as the client's item says it. */
export type StatusReason =
  | 'submitted'
  | 'resubmitted'
  | 'mined'
  | 'finalized'
  | 'nonce-used'
  | 'reorg'
  | 'expired'

/**
 * The `submitted-status` item of one status change. An item that depends on a block (included,
 * final, replaced) carries that block, so that the queue withdraws it — and tells a client that
 * already saw it — should a reorg abandon the block; the tracker then queues `pending` again.
 */
export function statusItem(change: Transition, reason: StatusReason): QueueItem {
  return {
    clientId: change.clientId,
    kind: 'submitted-status',
    clientContractId: change.clientContractId,
    filterId: null,
    blockNumber: change.block?.number ?? null,
    blockHash: change.block?.hash ?? null,
    txHash: change.hash,
    txIndex: change.outcome?.txIndex ?? null,
    logIndex: null,
    payload: {
      status: change.status,
      previous: change.previous,
      reason,
      from: change.from,
      nonce: change.nonce,
      ...(change.outcome ? { outcome: change.outcome } : {}),
      ...(change.replacedBy ? { replacedBy: change.replacedBy } : {}),
    },
  }
}

/** What is kept of a receipt: whether it succeeded and what it cost; the logs go to the filters' deliveries. */
export function outcomeOf(receipt: RpcReceipt, txIndex: number): Outcome {
  return {
    // Pre-Byzantium receipts have no status; such a chain is no target of this backend, but a
    // transaction that was mined there at least did not fail validation.
    success: receipt.status === undefined ? true : Number(receipt.status) === 1,
    gasUsed: BigInt(receipt.gasUsed).toString(),
    effectiveGasPrice: receipt.effectiveGasPrice ? BigInt(receipt.effectiveGasPrice).toString() : null,
    contractAddress: receipt.contractAddress ? (receipt.contractAddress.toLowerCase() as Hex) : null,
    txIndex,
  }
}
