import { type Kysely, sql, type Transaction } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { DB } from '../storage/schema.js'

/** `address|key`: one watched value of one contract. */
export type ValueId = `${Hex}|${string}`
export const valueId = (address: Hex, key: string): ValueId => `${address}|${key}`

export type StoredValue = { json: string; blockNumber: number }

/** A changed value, to store at the block where it changed. */
export type StateRow = { address: Hex; key: string; blockHash: Hex; blockNumber: number; json: string }

/**
 * The latest stored value of each watched value (of `addresses`, or all): the value as of its last
 * change, which is its value now. Rows of abandoned blocks are deleted in the reorg's transaction,
 * so every row here is on the canonical chain.
 */
export async function loadLatestValues(
  db: Kysely<DB>,
  addresses?: readonly Hex[],
): Promise<Map<ValueId, StoredValue>> {
  if (addresses?.length === 0) return new Map()
  const filter = addresses ? sql`where address in (${sql.join(addresses.map((a) => hexToBytes(a)))})` : sql``
  const result = await sql<{ address: Uint8Array; watch_key: string; value: unknown; block_number: string }>`
    select distinct on (address, watch_key) address, watch_key, value, block_number
    from contract_states ${filter}
    order by address, watch_key, block_number desc`.execute(db)
  return new Map(
    result.rows.map((row) => [
      valueId(bytesToHex(row.address), row.watch_key),
      { json: JSON.stringify(row.value), blockNumber: Number(row.block_number) },
    ]),
  )
}

export async function insertStates(trx: Transaction<DB>, rows: readonly StateRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 500) {
    await trx
      .insertInto('contract_states')
      .values(
        rows.slice(i, i + 500).map((row) => ({
          address: hexToBytes(row.address),
          block_hash: hexToBytes(row.blockHash),
          block_number: row.blockNumber,
          watch_key: row.key,
          value: row.json,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['address', 'block_hash', 'watch_key'])
          .doUpdateSet({ value: (eb) => eb.ref('excluded.value') }),
      )
      .execute()
  }
}

/** Deletes the values read at abandoned blocks; returns which values lost a row. */
export async function deleteStatesOfBlocks(
  trx: Transaction<DB>,
  blockHashes: readonly Hex[],
): Promise<{ address: Hex; key: string }[]> {
  if (blockHashes.length === 0) return []
  const rows = await trx
    .deleteFrom('contract_states')
    .where(
      'block_hash',
      'in',
      blockHashes.map((hash) => hexToBytes(hash)),
    )
    .returning(['address', 'watch_key'])
    .execute()
  return rows.map((row) => ({ address: bytesToHex(row.address), key: row.watch_key }))
}

/**
 * Deletes, at most `limit` at a time, values superseded at or below the finalized block (a newer
 * final row of the same value exists: no reorg can bring them back) and values of contracts nobody
 * is interested in any more.
 */
export async function pruneStates(db: Kysely<DB>, finalized: number, limit = 5_000): Promise<number> {
  const result = await sql<{ n: number }>`
    with victims as (
      select s.ctid from contract_states s
      where not exists (select 1 from deployed_contracts d where d.address = s.address)
         or (s.block_number < ${finalized} and exists (
              select 1 from contract_states n
              where n.address = s.address and n.watch_key = s.watch_key
                and n.block_number > s.block_number and n.block_number <= ${finalized}))
      limit ${limit}
    ), gone as (
      delete from contract_states where ctid in (select ctid from victims) returning 1
    ) select count(*)::int as n from gone`.execute(db)
  return result.rows[0]?.n ?? 0
}
