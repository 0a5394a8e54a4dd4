import type { DeliveryItem, DeliveryItemOf } from '@wallet-backend/sdk/protocol'
import { type Insertable, type Kysely, type Selectable, sql, type Transaction } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { BlockRef } from '../chain/follower/ChainListener.js'
import type { RpcLog, RpcReceipt, RpcTransaction } from '../chain/types.js'
import { BaseError } from '../errors/BaseError.js'
import type { ClientDeliveriesTable, DB, DeliveryKind } from '../storage/schema.js'
import { timeSlices } from '../utils/timeSlices.js'
import type { Decoded } from './compileAbi.js'
import { loadDecoders } from './InterestAbis.js'
import type { MatchPayload } from './queuePayloads.js'

/** One queued item as a client receives it: the wire contract's item, whose kind says what it holds. */
export type { DeliveryItem }

/** An item of a filter's match, which the interest's ABI decodes. */
type Match = DeliveryItemOf<'tx' | 'log'>

export class CursorOutOfRangeError extends BaseError {
  override readonly name = 'CursorOutOfRangeError'
  constructor(cursor: number, last: number) {
    super('CURSOR_OUT_OF_RANGE', `cursor ${cursor} is beyond the last queued item (${last})`, {
      status: 400,
      details: { cursor, last },
    })
  }
}

/** Where the chain is, as this instance knows it (a standby knows only the finalized number). */
export type ChainPosition = { head: BlockRef | undefined; finalized: { number: number } | undefined }

type ReadOptions = {
  limit: number
  chain: ChainPosition
  /** Told when items go out for the first time, with when each was queued. */
  onDelivered?: (queuedAt: Date[]) => void
}

/**
 * The client's items after `after` (and after its acknowledged cursor: nothing acknowledged is
 * sent again), oldest first, marked as delivered.
 */
export async function readDeliveries(
  db: Kysely<DB>,
  clientId: Uint8Array,
  options: ReadOptions & { after: number },
): Promise<{ items: DeliveryItem[]; lastCursor: number }> {
  const client = await db
    .selectFrom('clients')
    .select(['next_cursor'])
    .where('id', '=', clientId)
    .executeTakeFirstOrThrow()
  const items = await readDeliveriesOfMany(db, [{ clientId, after: options.after }], options)
  return { items: items.get(bytesToHex(clientId)) ?? [], lastCursor: client.next_cursor - 1 }
}

/**
 * The items of many clients at once, each after its own cursor (and its acknowledged one), at
 * most `limit` per client: three statements however many clients a block woke. Transactions,
 * receipts and logs come from the verified transactions they refer to, stored once however many
 * clients matched them.
 */
export async function readDeliveriesOfMany(
  db: Kysely<DB>,
  requests: readonly { clientId: Uint8Array; after: number }[],
  options: ReadOptions,
): Promise<Map<Hex, DeliveryItem[]>> {
  const result = new Map<Hex, DeliveryItem[]>()
  if (requests.length === 0) return result
  const acked = await db
    .selectFrom('clients')
    .select(['id', 'acked_cursor'])
    .where(
      'id',
      'in',
      requests.map((request) => request.clientId),
    )
    .execute()
  const ackedOf = new Map(acked.map((row) => [bytesToHex(row.id), row.acked_cursor]))
  const wanted = requests
    .filter((request) => ackedOf.has(bytesToHex(request.clientId)))
    .map((request) => ({
      clientId: request.clientId,
      from: Math.max(request.after, ackedOf.get(bytesToHex(request.clientId))!),
    }))
  if (wanted.length === 0) return result
  // One index range per client ((client_id, cursor) is the key), each bounded by the limit: an OR
  // of thousands of (client, cursor) terms was planned as a scan of the whole queue, which at
  // 10,000 streams ran for tens of minutes, and one client's long backlog took the others' share
  // of a global limit.
  const { rows } = await sql<DeliveryReadRow>`
    select d.client_id, d.cursor, d.kind, d.payload, d.block_number, d.block_hash, d.tx_hash,
      d.tx_index, d.log_index, d.delivered_at, d.created_at, d.client_contract_id,
      i.address, i.abi is not null as has_abi, v.tx, v.receipt
    from unnest(${wanted.map((w) => bytesToHex(w.clientId).slice(2))}::text[], ${wanted.map((w) => w.from)}::bigint[])
      as w (client_hex, after_cursor)
    cross join lateral (
      select * from client_deliveries
      where client_id = decode(w.client_hex, 'hex') and cursor > w.after_cursor
      order by cursor
      limit ${options.limit}
    ) as d
    left join client_contracts as i on i.id = d.client_contract_id
    left join verified_txs as v on v.block_hash = d.block_hash and v.tx_index = d.tx_index
    order by d.client_id, d.cursor`.execute(db)
  const fresh = new Map<Hex, { clientId: Uint8Array; cursors: number[] }>()
  const queuedAt = new Map<string, Date>()
  const undecoded: { row: (typeof rows)[number]; item: Match }[] = []
  for (const row of rows) {
    const id = bytesToHex(row.client_id)
    const list = result.get(id) ?? []
    if (list.length >= options.limit) continue
    const item = toItem(row, options.chain)
    list.push(item)
    result.set(id, list)
    if (row.has_abi && (row.kind === 'tx' || row.kind === 'log') && !('decoded' in (row.payload as object)))
      undecoded.push({ row, item: item as Match })
    if (row.delivered_at === null) {
      const entry = fresh.get(id) ?? { clientId: row.client_id, cursors: [] }
      entry.cursors.push(row.cursor)
      fresh.set(id, entry)
      queuedAt.set(`${id}:${row.cursor}`, row.created_at)
    }
  }
  await decodeOnce(db, undecoded)
  if (fresh.size === 0) return result
  // A reorg may have withdrawn an item read above before it is marked delivered here: it was
  // still undelivered then, so no `removed` notice follows it, and it must not go out. Marking
  // takes the row lock a reorg's delete also takes, so each item is either marked first (and the
  // reorg then sends its notice) or gone (and left out of the answer).
  const pairs = [...fresh.values()].flatMap((entry) =>
    entry.cursors.map((cursor) => ({ client: bytesToHex(entry.clientId).slice(2), cursor })),
  )
  const { rows: marked } = await sql<{ client_id: Uint8Array; cursor: number }>`
    update client_deliveries as d set delivered_at = ${new Date()}
    from unnest(${pairs.map((p) => p.client)}::text[], ${pairs.map((p) => p.cursor)}::bigint[])
      as w (client_hex, cursor)
    where d.client_id = decode(w.client_hex, 'hex') and d.cursor = w.cursor
    returning d.client_id, d.cursor`.execute(db)
  options.onDelivered?.(marked.map((row) => queuedAt.get(`${bytesToHex(row.client_id)}:${row.cursor}`)!))
  if (marked.length === [...fresh.values()].reduce((n, entry) => n + entry.cursors.length, 0)) return result
  const kept = new Set(marked.map((row) => `${bytesToHex(row.client_id)}:${row.cursor}`))
  for (const [id, entry] of fresh) {
    const withdrawn = new Set(entry.cursors.filter((cursor) => !kept.has(`${id}:${cursor}`)))
    if (withdrawn.size === 0) continue
    result.set(
      id,
      result.get(id)!.filter((item) => !withdrawn.has(item.cursor)),
    )
  }
  return result
}

/** A queued item as the many-client read returns it, with its interest and verified transaction. */
type DeliveryReadRow = Selectable<DB['client_deliveries']> & {
  address: Uint8Array | null
  has_abi: boolean | null
  tx: Selectable<DB['verified_txs']>['tx'] | null
  receipt: Selectable<DB['verified_txs']>['receipt'] | null
}

type DeliveryRow = {
  cursor: number
  kind: DeliveryKind
  payload: unknown
  block_number: number | null
  block_hash: Uint8Array | null
  tx_hash: Uint8Array | null
  tx_index: number | null
  log_index: number | null
  address: Uint8Array | null
  tx: unknown
  receipt: unknown
}

function toItem(row: DeliveryRow, chain: ChainPosition): DeliveryItem {
  const head = chain.head?.number
  const finalized = chain.finalized?.number ?? -1
  // Back-filled items carry their transaction and receipt; live ones refer to verified_txs.
  const { filterIds, tx: ownTx, receipt: ownReceipt, ...rest } = row.payload as Partial<MatchPayload>
  // A match's decoding is a field of the item; a state item's (a view call's result) is its data.
  const match = row.kind === 'tx' || row.kind === 'log'
  const { decoded, ...matchData } = rest as { decoded?: Decoded | null }
  const data = match ? matchData : rest
  const receipt = (row.receipt ?? ownReceipt) as RpcReceipt | undefined
  const tx = (row.tx ?? ownTx) as RpcTransaction | undefined
  // The payload is what the producer of the kind stored (`QueuePayloads`): the item's shape for that kind.
  const item = {
    cursor: row.cursor,
    kind: row.kind,
    interest: row.address ? bytesToHex(row.address) : null,
    filterIds: filterIds ?? [],
    block:
      row.block_number !== null && row.block_hash
        ? { number: row.block_number, hash: bytesToHex(row.block_hash) }
        : null,
    txHash: row.tx_hash ? bytesToHex(row.tx_hash) : null,
    txIndex: row.tx_index,
    logIndex: row.log_index,
    confirmations:
      row.block_number !== null && head !== undefined ? Math.max(0, head - row.block_number + 1) : null,
    final: row.block_number !== null && row.block_number <= finalized,
    ...(Object.keys(data).length > 0 ? { data } : {}),
  } as DeliveryItem & { tx?: RpcTransaction; receipt?: RpcReceipt; log?: RpcLog; decoded?: Decoded }
  if (row.kind === 'tx' && tx) {
    item.tx = tx
    if (receipt) item.receipt = receipt
  }
  if (row.kind === 'log' && receipt) {
    const log = receipt.logs.find((l) => Number(l.logIndex) === row.log_index)
    if (log) item.log = log
  }
  if (match && decoded) item.decoded = decoded
  return item as DeliveryItem
}

/**
 * Items queued before their interest had an ABI (or before matches were decoded as they were
 * queued) are decoded on their first read, and the decoded form is stored with them: each ABI is
 * read once per page, each item decoded once.
 */
async function decodeOnce(
  db: Kysely<DB>,
  undecoded: readonly {
    row: { client_id: Uint8Array; cursor: number; client_contract_id: number | null }
    item: Match
  }[],
): Promise<void> {
  if (undecoded.length === 0) return
  const decoders = await loadDecoders(db, [
    ...new Set(undecoded.map(({ row }) => row.client_contract_id).filter((id) => id !== null)),
  ])
  const pause = timeSlices()
  const values = []
  for (const { row, item } of undecoded) {
    const decoder = decoders.get(row.client_contract_id!)
    const decoded =
      (item.kind === 'log' && item.log
        ? decoder?.decodeLog(item.log)
        : item.kind === 'tx' && typeof item.tx?.input === 'string'
          ? decoder?.decodeCall(item.tx.input)
          : undefined) ?? null
    if (decoded) item.decoded = decoded
    values.push(sql`(${row.client_id}::bytea, ${row.cursor}::bigint, ${JSON.stringify(decoded)}::jsonb)`)
    await pause()
  }
  await sql`
    update client_deliveries d set payload = d.payload || jsonb_build_object('decoded', v.decoded)
    from (values ${sql.join(values)}) as v(client_id, cursor, decoded)
    where d.client_id = v.client_id and d.cursor = v.cursor`.execute(db)
}

/**
 * Acknowledges everything up to `cursor`. Items of final blocks are deleted; items of blocks a
 * reorg could still remove are kept, hidden, so that the client can be told if that happens.
 */
export async function acknowledge(
  db: Kysely<DB>,
  clientId: Uint8Array,
  cursor: number,
  finalized: number,
): Promise<{ acked: number }> {
  return db.transaction().execute(async (trx) => {
    const client = await trx
      .selectFrom('clients')
      .select(['acked_cursor', 'next_cursor'])
      .where('id', '=', clientId)
      .forUpdate()
      .executeTakeFirstOrThrow()
    if (cursor > client.next_cursor - 1) throw new CursorOutOfRangeError(cursor, client.next_cursor - 1)
    const acked = Math.max(client.acked_cursor, cursor)
    if (acked !== client.acked_cursor) {
      // What the ack takes off the backlog: the items between the old and the new acked cursor.
      await sql`
        update clients c set
          acked_cursor = ${acked},
          backlog_items = greatest(0, c.backlog_items - q.items),
          backlog_bytes = greatest(0, c.backlog_bytes - q.bytes)
        from (
          select count(*) as items, coalesce(sum(bytes), 0) as bytes from client_deliveries
          where client_id = ${clientId} and cursor > ${client.acked_cursor} and cursor <= ${acked}
        ) q
        where c.id = ${clientId}`.execute(trx)
    }
    await trx
      .deleteFrom('client_deliveries')
      .where('client_id', '=', clientId)
      .where('cursor', '<=', acked)
      .where((eb) => eb.or([eb('block_number', 'is', null), eb('block_number', '<=', finalized)]))
      .execute()
    return { acked }
  })
}

/** Deletes acknowledged items whose blocks have become final since (bounded per call). */
export async function dropFinalAcknowledged(
  db: Kysely<DB>,
  finalized: number,
  limit = 10_000,
): Promise<number> {
  const result = await sql<{ n: number }>`
    with gone as (
      delete from client_deliveries d using clients c
      where c.id = d.client_id and d.cursor <= c.acked_cursor and d.block_number <= ${finalized}
        and d.ctid in (select ctid from client_deliveries where block_number <= ${finalized} limit ${limit})
      returning 1
    ) select count(*)::int as n from gone`.execute(db)
  return result.rows[0]?.n ?? 0
}

const CHUNK = 500

/** What one client gets in one queue write: its items, serialised, and their summed size. */
export type ClientBatch = { clientId: Hex; payloads: string[]; bytes: number }

/** A client's row after its cursors were allocated: where its new items start, and its backlog now. */
export type Allocated = {
  clientId: Hex
  firstCursor: number
  plan: string
  stage: string
  backlogItems: number
  backlogBytes: number
}

/**
 * Allocates each client's next cursors and adds the items to its backlog counters, in one statement
 * per 500 clients. Only clients in `stages` get any: a dormant client is queued only what takes back
 * what it was told (`removed`).
 */
export async function allocateCursors(
  trx: Transaction<DB>,
  batches: readonly ClientBatch[],
  stages: readonly ('active' | 'dormant')[],
): Promise<Allocated[]> {
  const allocated: Allocated[] = []
  for (let i = 0; i < batches.length; i += CHUNK) {
    const values = sql.join(
      batches
        .slice(i, i + CHUNK)
        .map(
          (b) => sql`(${hexToBytes(b.clientId)}::bytea, ${b.payloads.length}::bigint, ${b.bytes}::bigint)`,
        ),
    )
    const rows = await sql<{
      id: Uint8Array
      next_cursor: number
      n: number
      plan: string
      stage: string
      backlog_items: number
      backlog_bytes: number
    }>`
      update clients as c set
        next_cursor = c.next_cursor + v.n,
        backlog_items = c.backlog_items + v.n,
        backlog_bytes = c.backlog_bytes + v.bytes
      from (values ${values}) as v(id, n, bytes)
      where c.id = v.id and c.stage in (${sql.join(stages)})
      returning c.id, c.next_cursor, v.n, c.plan, c.stage, c.backlog_items, c.backlog_bytes`.execute(trx)
    for (const row of rows.rows) {
      allocated.push({
        clientId: bytesToHex(row.id),
        firstCursor: Number(row.next_cursor) - Number(row.n),
        plan: row.plan,
        stage: row.stage,
        backlogItems: Number(row.backlog_items),
        backlogBytes: Number(row.backlog_bytes),
      })
    }
  }
  return allocated
}

/** Stores items whose cursors `allocateCursors` gave out. */
export async function insertItems(
  trx: Transaction<DB>,
  rows: readonly Insertable<ClientDeliveriesTable>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += CHUNK) {
    await trx
      .insertInto('client_deliveries')
      .values(rows.slice(i, i + CHUNK))
      .execute()
  }
}

/**
 * Active clients stop being matched and queued for from `fromBlock` on; returns those that were
 * active. Their identity, interests and queue stay.
 */
export async function markDormant(
  trx: Transaction<DB>,
  clientIds: readonly Hex[],
  fromBlock: number,
  at: Date,
): Promise<Hex[]> {
  if (clientIds.length === 0) return []
  const rows = await trx
    .updateTable('clients')
    .set({ stage: 'dormant', stage_changed_at: at, dormant_from_block: fromBlock })
    .where(
      'id',
      'in',
      clientIds.map((id) => hexToBytes(id)),
    )
    .where('stage', '=', 'active')
    .returning('id')
    .execute()
  return rows.map((row) => bytesToHex(row.id))
}

/**
 * A reorg abandoned blocks from `firstRemoved` on. A client away since a later block was matched on
 * the abandoned branch up to there (those items are withdrawn), and the blocks replacing it are
 * matched for nobody while it is away: its gap must begin at the fork, in the reorg's transaction
 * (docs/architecture.md, invariant 9).
 */
export async function rewindDormancy(trx: Transaction<DB>, firstRemoved: number): Promise<void> {
  await trx
    .updateTable('clients')
    .set({ dormant_from_block: firstRemoved })
    .where('stage', 'in', ['dormant', 'pruned'])
    .where('dormant_from_block', '>', firstRemoved)
    .execute()
}

/**
 * A dormant (or pruned) client is active again; returns the first block it was not matched at, or
 * undefined if it was not away.
 */
export async function markActive(
  trx: Transaction<DB>,
  clientId: Hex,
): Promise<{ awayFrom: number } | undefined> {
  const id = hexToBytes(clientId)
  const row = await trx
    .selectFrom('clients')
    .select('dormant_from_block')
    .where('id', '=', id)
    .where('stage', 'in', ['dormant', 'pruned'])
    .forUpdate()
    .executeTakeFirst()
  if (!row) return undefined
  await trx
    .updateTable('clients')
    .set({ stage: 'active', stage_changed_at: new Date(), dormant_from_block: null })
    .where('id', '=', id)
    .execute()
  return { awayFrom: row.dormant_from_block ?? 0 }
}

/** The items of abandoned blocks leave the queue; returns them, with their client's acknowledged cursor. */
export async function withdrawItemsOfBlocks(trx: Transaction<DB>, blockHashes: readonly Hex[]) {
  const withdrawn = await trx
    .deleteFrom('client_deliveries as d')
    .using('clients as c')
    .whereRef('c.id', '=', 'd.client_id')
    .where(
      'd.block_hash',
      'in',
      blockHashes.map((hash) => hexToBytes(hash)),
    )
    .returning([
      'd.client_id',
      'd.cursor',
      'd.kind',
      'd.client_contract_id',
      'd.client_account_id',
      'd.block_number',
      'd.block_hash',
      'd.tx_hash',
      'd.tx_index',
      'd.log_index',
      'd.delivered_at',
      'd.bytes',
      'c.acked_cursor',
    ])
    .execute()
  await releaseBacklog(
    trx,
    withdrawn.filter((row) => row.cursor > row.acked_cursor),
  )
  return withdrawn
}

/**
 * Before an interest or an account interest is deleted (its queued items go with it, by cascade):
 * its items the client has not acknowledged leave its backlog counters.
 */
export async function releaseItemsOf(
  trx: Transaction<DB>,
  clientId: Uint8Array,
  of: { interest: Hex } | { account: Hex },
): Promise<void> {
  const base = trx
    .selectFrom('client_deliveries as d')
    .innerJoin('clients as c', 'c.id', 'd.client_id')
    .select(['d.client_id', 'd.bytes'])
    .where('d.client_id', '=', clientId)
    .whereRef('d.cursor', '>', 'c.acked_cursor')
  const gone =
    'interest' in of
      ? await base
          .innerJoin('client_contracts as i', 'i.id', 'd.client_contract_id')
          .where('i.address', '=', hexToBytes(of.interest))
          .execute()
      : await base
          .innerJoin('client_accounts as a', 'a.id', 'd.client_account_id')
          .where('a.address', '=', hexToBytes(of.account))
          .execute()
  await releaseBacklog(trx, gone)
}

/** Empties the client's queue: every item goes, and its backlog counters with them. */
export async function emptyQueue(trx: Transaction<DB>, clientId: Uint8Array): Promise<void> {
  await trx.deleteFrom('client_deliveries').where('client_id', '=', clientId).execute()
  await trx
    .updateTable('clients')
    .set({ backlog_items: 0, backlog_bytes: 0 })
    .where('id', '=', clientId)
    .execute()
}

/**
 * Takes unacknowledged items that leave the queue without an ack (withdrawn by a reorg, deleted
 * with their interest) off their clients' backlog counters.
 */
async function releaseBacklog(
  trx: Transaction<DB>,
  gone: readonly { client_id: Uint8Array; bytes: number }[],
): Promise<void> {
  if (gone.length === 0) return
  const perClient = new Map<string, { id: Uint8Array; items: number; bytes: number }>()
  for (const row of gone) {
    const key = bytesToHex(row.client_id)
    const entry = perClient.get(key) ?? { id: row.client_id, items: 0, bytes: 0 }
    entry.items += 1
    entry.bytes += row.bytes
    perClient.set(key, entry)
  }
  const values = sql.join(
    [...perClient.values()].map((e) => sql`(${e.id}::bytea, ${e.items}::bigint, ${e.bytes}::bigint)`),
  )
  await sql`
    update clients as c set
      backlog_items = greatest(0, c.backlog_items - v.items),
      backlog_bytes = greatest(0, c.backlog_bytes - v.bytes)
    from (values ${values}) as v(id, items, bytes)
    where c.id = v.id`.execute(trx)
}
