import type { DeliveryItemOf, DeliveryKind } from '@wallet-backend/sdk/protocol'
import type { RpcReceipt, RpcTransaction } from '../chain/types.js'

/**
 * What a match (a `tx` or `log` item) stores: the filters it matched and its decoding. Reading
 * takes its transaction, receipt and log from `verified_txs`, or for a back-filled match, whose
 * block may predate the stored chain, from the payload itself (`deliveryStore`'s `toItem`).
 */
export type MatchPayload = {
  filterIds: number[]
  /** Null: the interest has an ABI, and it does not fit the match. */
  decoded?: DeliveryItemOf<'tx'>['decoded'] | null
  tx?: RpcTransaction
  receipt?: RpcReceipt
  backfill?: true
}

/**
 * What each kind of item stores as its payload: a match its own, every other kind the `data` of
 * the wire item (`@wallet-backend/sdk/protocol`), stored as it is sent. Keyed by the protocol's
 * kinds, so a kind added there must say here what it stores.
 */
export type QueuePayloads = EveryKind<{
  tx: MatchPayload
  log: MatchPayload
  state: DeliveryItemOf<'state'>['data']
  deployed: DeliveryItemOf<'deployed'>['data']
  'submitted-status': DeliveryItemOf<'submitted-status'>['data']
  // Stored and sent; the wire schema keeps fields it does not name, and does not name this one.
  removed: DeliveryItemOf<'removed'>['data'] & { reason: 'reorg' }
  gap: DeliveryItemOf<'gap'>['data']
  account: DeliveryItemOf<'account'>['data']
}>

type EveryKind<T extends Record<DeliveryKind, unknown>> = T
