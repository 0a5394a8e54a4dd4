import { type Kysely, sql } from 'kysely'
import type { DB } from '../../storage/schema.js'

/** What one instance charged a key since it last published, and the rate the key drains at. */
export type CostDelta = { key: string; units: number; perSecond: number }

/**
 * Adds each key's units to its shared account (after draining the account at its rate since it
 * was last written) and returns every key's total, in one statement. Keys are written in sorted
 * order, so instances publishing the same keys at once lock them in the same order.
 */
export async function publishCosts(
  db: Kysely<DB>,
  deltas: readonly CostDelta[],
): Promise<Map<string, number>> {
  if (deltas.length === 0) return new Map()
  const sorted = [...deltas].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const rows = await db
    .insertInto('cost_accounts')
    .values(sorted.map((d) => ({ key: d.key, cost: d.units, per_second: d.perSecond })))
    .onConflict((oc) =>
      oc.column('key').doUpdateSet({
        cost: sql`greatest(0, cost_accounts.cost - extract(epoch from now() - cost_accounts.at) * excluded.per_second) + excluded.cost`,
        per_second: sql`excluded.per_second`,
        at: sql`now()`,
      }),
    )
    .returning(['key', 'cost'])
    .execute()
  return new Map(rows.map((row) => [row.key, Number(row.cost)]))
}

/** Deletes the shared accounts that have drained to nothing. */
export async function forgetDrainedCosts(db: Kysely<DB>): Promise<void> {
  await db
    .deleteFrom('cost_accounts')
    .where(sql<boolean>`cost - extract(epoch from now() - at) * per_second <= 0`)
    .execute()
}
