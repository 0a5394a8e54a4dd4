import type { AccountMovement } from '@wallet-backend/sdk'
import type { Kysely } from 'kysely'
import { bytesToHex, type Hex } from 'viem'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'
import type { InternalTransfer } from '../delivery/InternalTransfers.js'
import type { DB } from '../storage/schema.js'
import {
  ACCOUNT_TOPICS,
  type AccountActivityKind,
  logActivity,
  nativeActivity,
  topicAddress,
} from './accountActivity.js'

/** One client's interest in one address, as the index holds it. */
export type StoredAccount = {
  accountId: number
  clientId: Hex
  /** Lower-case. */
  address: Hex
  activity: readonly AccountActivityKind[]
}

type Entry = { accountId: number; clientId: Hex; address: Hex; activity: ReadonlySet<AccountActivityKind> }

export type AccountMatch = {
  clientId: Hex
  accountId: number
  account: Hex
  blockIndex: number
  txIndex: number
  /** Index of the log within the block, for activity read from a log. */
  logIndex: number | null
  activity: AccountMovement
}

/**
 * Every account interest, keyed by its address. Matching a block looks up a transaction's sender
 * and recipient, and for the events accounts follow the one or two topics that hold addresses:
 * the work is proportional to the block's transactions, logs and matches, never to the number of
 * accounts watched.
 */
export class AccountIndex {
  readonly #byAddress = new Map<Hex, Entry[]>()
  readonly #byId = new Map<number, Entry>()
  #internal = 0

  get size(): number {
    return this.#byId.size
  }

  /** Whether some account follows internal transfers (only then are blocks traced). */
  get wantsInternal(): boolean {
    return this.#internal > 0
  }

  /**
   * Loads every account interest (at start). A dormant client's are loaded too, as the running
   * index keeps them: waking a client does not install its accounts again, and its queue refuses
   * items while it is dormant. A pruned client has no accounts left.
   */
  static async load(db: Kysely<DB>): Promise<AccountIndex> {
    const index = new AccountIndex()
    const rows = await db
      .selectFrom('client_accounts as a')
      // As for contract interests: an account with a back-fill under way goes live when its
      // back-fill hands it over (it is resumed after a restart); one whose back-fill failed waits
      // to be put again.
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('backfill_jobs as j')
              .select('j.id')
              .whereRef('j.client_account_id', '=', 'a.id')
              .where('j.status', 'in', ['pending', 'running', 'failed']),
          ),
        ),
      )
      .select(['a.id', 'a.client_id', 'a.address', 'a.activity'])
      .execute()
    for (const row of rows)
      index.set({
        accountId: row.id,
        clientId: bytesToHex(row.client_id),
        address: bytesToHex(row.address),
        activity: row.activity as AccountActivityKind[],
      })
    return index
  }

  /** Installs (or replaces) one account interest. */
  set(account: StoredAccount): void {
    this.remove(account.accountId)
    const entry: Entry = {
      accountId: account.accountId,
      clientId: account.clientId,
      address: account.address.toLowerCase() as Hex,
      activity: activitySet(account.activity),
    }
    this.#byId.set(entry.accountId, entry)
    if (entry.activity.has('internal')) this.#internal += 1
    const list = this.#byAddress.get(entry.address)
    if (list) list.push(entry)
    else this.#byAddress.set(entry.address, [entry])
  }

  remove(accountId: number): void {
    const entry = this.#byId.get(accountId)
    if (!entry) return
    this.#byId.delete(accountId)
    if (entry.activity.has('internal')) this.#internal -= 1
    const list = this.#byAddress.get(entry.address) ?? []
    const at = list.indexOf(entry)
    if (at >= 0) list.splice(at, 1)
    if (list.length === 0) this.#byAddress.delete(entry.address)
  }

  /** Removes every account of a client (dormant or pruned). */
  removeClient(clientId: Hex): void {
    for (const entry of [...this.#byId.values()])
      if (entry.clientId === clientId) this.remove(entry.accountId)
  }

  /**
   * The activity of a batch of blocks for the accounts watched, in chain order: a transaction's
   * own activity before its logs'. `work` gets one unit per account looked at, for its client.
   */
  match(blocks: readonly FetchedBlock[], work?: Map<Hex, number>): AccountMatch[] {
    const out: AccountMatch[] = []
    if (this.#byAddress.size === 0) return out
    blocks.forEach(({ block, receipts }, blockIndex) => {
      let logIndexInBlock = 0
      block.transactions.forEach((tx, txIndex) => {
        const receipt = receipts[txIndex]!
        const from = tx.from.toLowerCase() as Hex
        const to = (tx.to ?? receipt.contractAddress)?.toLowerCase() as Hex | undefined
        const parties = to && to !== from ? [from, to] : [from]
        for (const party of parties) {
          for (const entry of this.#byAddress.get(party) ?? []) {
            charge(work, entry)
            if (!entry.activity.has('native')) continue
            out.push(matchOf(entry, blockIndex, txIndex, null, nativeActivity(entry.address, tx, receipt)))
          }
        }
        for (const log of receipt.logs) {
          const logIndex = log.logIndex === undefined ? logIndexInBlock : Number(log.logIndex)
          logIndexInBlock += 1
          const event = ACCOUNT_TOPICS.get((log.topics[0] ?? '').toLowerCase())
          if (!event) continue
          let seen: Hex | undefined
          for (const position of event.positions) {
            const party = topicAddress(log.topics[position])
            // A transfer to oneself names the account twice: one item.
            if (!party || party === seen) continue
            seen = party
            for (const entry of this.#byAddress.get(party) ?? []) {
              charge(work, entry)
              if (!entry.activity.has(event.kind)) continue
              const activity = logActivity(entry.address, log)
              if (!activity) continue
              out.push(matchOf(entry, blockIndex, txIndex, logIndex, activity))
            }
          }
        }
      })
    })
    return out
  }

  /** The internal transfers of one block (`blockIndex` in its batch) to or from watched accounts. */
  matchInternal(
    blockIndex: number,
    transfers: readonly InternalTransfer[],
    work?: Map<Hex, number>,
  ): AccountMatch[] {
    const out: AccountMatch[] = []
    for (const transfer of transfers) {
      const parties = transfer.from === transfer.to ? [transfer.from] : [transfer.from, transfer.to]
      for (const party of parties) {
        for (const entry of this.#byAddress.get(party) ?? []) {
          charge(work, entry)
          if (!entry.activity.has('internal')) continue
          const fromMe = transfer.from === entry.address
          const toMe = transfer.to === entry.address
          out.push(
            matchOf(entry, blockIndex, transfer.txIndex, null, {
              type: 'internal',
              direction: fromMe && toMe ? 'self' : fromMe ? 'out' : 'in',
              counterparty: fromMe ? transfer.to : transfer.from,
              value: transfer.value.toString(),
              traceAddress: transfer.traceAddress,
            }),
          )
        }
      }
    }
    return out
  }
}

/** Accounts share the set of what they follow: a million accounts hold a handful of sets. */
const activitySets = new Map<string, ReadonlySet<AccountActivityKind>>()
function activitySet(activity: readonly AccountActivityKind[]): ReadonlySet<AccountActivityKind> {
  const key = [...activity].sort().join(',')
  let set = activitySets.get(key)
  if (!set) {
    set = new Set(activity)
    activitySets.set(key, set)
  }
  return set
}

function matchOf(
  entry: Entry,
  blockIndex: number,
  txIndex: number,
  logIndex: number | null,
  activity: AccountMovement,
): AccountMatch {
  return {
    clientId: entry.clientId,
    accountId: entry.accountId,
    account: entry.address,
    blockIndex,
    txIndex,
    logIndex,
    activity,
  }
}

function charge(work: Map<Hex, number> | undefined, entry: Entry): void {
  if (work) work.set(entry.clientId, (work.get(entry.clientId) ?? 0) + 1)
}
