import { type Kysely, sql } from 'kysely'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { type Hex, hexToBytes } from 'viem'
import type { DB } from '../../storage/schema.js'

export const USAGE_COUNTERS = [
  'requests',
  'filter_work',
  'items_queued',
  'bytes_queued',
  'bytes_delivered',
  'submissions',
  'backfill_calls',
  'state_reads',
] as const
export type UsageCounter = (typeof USAGE_COUNTERS)[number]

/**
 * Per-client usage counters (docs/operations.md, Plans and limits at runtime). Counting happens in memory on the hot paths
 * and is written to `client_usage` in one statement every few seconds, so metering costs no write
 * per request; Prometheus gets the aggregates.
 */
export class UsageMeter {
  #pending = new Map<Hex, Partial<Record<UsageCounter, number>>>()
  #timer: NodeJS.Timeout | undefined
  readonly #total: Counter<'counter'>

  constructor(
    private readonly db: Kysely<DB>,
    private readonly logger: Logger,
    metrics: Registry,
  ) {
    this.#total = new Counter({
      name: 'wallet_backend_usage_total',
      help: 'Metered client usage, all clients together, by counter',
      labelNames: ['counter'],
      registers: [metrics],
    })
  }

  add(clientId: Hex, counter: UsageCounter, amount = 1): void {
    if (amount <= 0) return
    const entry = this.#pending.get(clientId) ?? {}
    entry[counter] = (entry[counter] ?? 0) + amount
    this.#pending.set(clientId, entry)
    this.#total.inc({ counter }, amount)
  }

  start(intervalMs = 5_000): void {
    this.#timer = setInterval(() => {
      this.flush().catch((error: unknown) => this.logger.warn({ err: error }, 'usage flush failed'))
    }, intervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush().catch(() => {})
  }

  /** Writes what was counted since the last flush. */
  async flush(): Promise<void> {
    if (this.#pending.size === 0) return
    const pending = this.#pending
    this.#pending = new Map()
    // Shares of work (a node read split among the clients watching a value) are fractions: the
    // whole units are written, the rest waits for the next flush.
    for (const [id, counts] of pending) {
      for (const counter of USAGE_COUNTERS) {
        const whole = Math.floor(counts[counter] ?? 0)
        const rest = (counts[counter] ?? 0) - whole
        if (rest <= 0) continue
        counts[counter] = whole
        const carried = this.#pending.get(id) ?? {}
        carried[counter] = (carried[counter] ?? 0) + rest
        this.#pending.set(id, carried)
      }
    }
    const rows = [...pending.entries()].map(
      ([id, counts]) =>
        sql`(${hexToBytes(id)}::bytea, ${sql.join(
          USAGE_COUNTERS.map((counter) => sql`${counts[counter] ?? 0}::bigint`),
        )})`,
    )
    for (let i = 0; i < rows.length; i += 500) {
      await sql`
        update client_usage as u set
          requests = u.requests + v.requests,
          filter_work = u.filter_work + v.filter_work,
          items_queued = u.items_queued + v.items_queued,
          bytes_queued = u.bytes_queued + v.bytes_queued,
          bytes_delivered = u.bytes_delivered + v.bytes_delivered,
          submissions = u.submissions + v.submissions,
          backfill_calls = u.backfill_calls + v.backfill_calls,
          state_reads = u.state_reads + v.state_reads,
          work_while_absent = u.work_while_absent + v.filter_work,
          updated_at = now()
        from (values ${sql.join(rows.slice(i, i + 500))})
          as v(client_id, requests, filter_work, items_queued, bytes_queued, bytes_delivered, submissions, backfill_calls, state_reads)
        where u.client_id = v.client_id`.execute(this.db)
    }
  }
}
