import type { Kysely, Transaction } from 'kysely'
import type { DB } from '../../storage/schema.js'

/**
 * Where a back-fill stands is the database's word: `backfill_jobs.next_block`, the first block not
 * scanned. A reorg moves it back (below), so a runner never takes its own copy of the position for
 * granted: it advances the row only from where it thinks it stands, and reads the row again when
 * that fails.
 */

/** The job is over under its runner: its interest or account was deleted or replaced. */
export class WithdrawnError extends Error {
  override readonly name = 'WithdrawnError'
}

/** A reorg moved the job back to `position` while its runner scanned ahead; it scans again from there. */
export class RewoundError extends Error {
  override readonly name = 'RewoundError'
  constructor(readonly position: number) {
    super(`a reorg moved the back-fill back to block ${position}`)
  }
}

/**
 * A reorg abandoned blocks from `firstRemoved` on. The items a back-fill queued for them are
 * withdrawn with them, and the blocks that replace them are matched by nobody: live matching does
 * not hold the interest before the back-fill hands it over, and the back-fill has passed them. So
 * every back-fill beyond the fork goes back to it (never before its own first block), in the
 * reorg's transaction (docs/architecture.md, invariant 12).
 */
export async function rewindBackfills(trx: Transaction<DB>, firstRemoved: number): Promise<void> {
  await trx
    .updateTable('backfill_jobs')
    .set((eb) => ({
      next_block: eb.fn('greatest', [eb.ref('from_block'), eb.val(firstRemoved)]),
      updated_at: new Date(),
    }))
    .where('status', 'in', ['pending', 'running'])
    .where('next_block', '>', firstRemoved)
    .execute()
}

/** What advancing a back-fill found: it moved, a reorg had moved it back (to where), or it is withdrawn. */
export type Advance = 'moved' | 'withdrawn' | { rewoundTo: number }

/**
 * Moves job `jobId` from `from` to `to`, in `trx` — only if it still stands at `from` and is not
 * over (withdrawn: its interest or account deleted or replaced).
 */
export async function advanceBackfill(
  trx: Transaction<DB>,
  jobId: number,
  from: number,
  to: number,
): Promise<Advance> {
  const row = await trx
    .updateTable('backfill_jobs')
    .set({ next_block: to, updated_at: new Date() })
    .where('id', '=', jobId)
    .where('next_block', '=', from)
    .where('status', 'in', ['pending', 'running'])
    .returning('id')
    .executeTakeFirst()
  if (row) return 'moved'
  const position = await backfillPosition(trx, jobId)
  return position === undefined ? 'withdrawn' : { rewoundTo: position }
}

/** The first block job `jobId` has not scanned; undefined once it is over or withdrawn. */
export async function backfillPosition(db: Kysely<DB>, jobId: number): Promise<number | undefined> {
  const row = await db
    .selectFrom('backfill_jobs')
    .select('next_block')
    .where('id', '=', jobId)
    .where('status', 'in', ['pending', 'running'])
    .executeTakeFirst()
  return row?.next_block
}
