import type { PGlite } from '@electric-sql/pglite'
import {
  CompiledQuery,
  type DatabaseConnection,
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryCompiler,
  type QueryResult,
} from 'kysely'
import { isUrgent } from '../urgency.js'

const WRITES = /^\s*(insert|update|delete|merge)\b/i

class PGliteConnection implements DatabaseConnection {
  constructor(private readonly pg: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.pg.query<R>(query.sql, query.parameters as unknown[], { rowMode: 'object' })
    return WRITES.test(query.sql)
      ? { rows: result.rows, numAffectedRows: BigInt(result.affectedRows ?? 0) }
      : { rows: result.rows }
  }

  // biome-ignore lint/correctness/useYield: PGlite has no cursors across the wire; streaming is unsupported.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on PGlite')
  }
}

/**
 * PGlite has one connection. Kysely asks for a connection per query and holds one for a whole
 * transaction, so handing it out one holder at a time — in arrival order, urgent holders first —
 * is exactly what serialises concurrent transactions correctly.
 */
class PGliteDriver implements Driver {
  readonly #pg: PGlite
  readonly #connection: PGliteConnection
  #held = false
  readonly #waiting: (() => void)[] = []
  readonly #urgent: (() => void)[] = []
  readonly #idle: (() => void)[] = []

  constructor(pg: PGlite) {
    this.#pg = pg
    this.#connection = new PGliteConnection(pg)
  }

  async init(): Promise<void> {
    await this.#pg.waitReady
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    if (this.#held) {
      // Handed over by the holder's release, still held: nobody can slip in between.
      await new Promise<void>((resolve) => (isUrgent() ? this.#urgent : this.#waiting).push(resolve))
    }
    this.#held = true
    return this.#connection
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async releaseConnection(): Promise<void> {
    const next = this.#urgent.shift() ?? this.#waiting.shift()
    if (next) return next()
    this.#held = false
    for (const idle of this.#idle.splice(0)) idle()
  }

  async destroy(): Promise<void> {
    if (this.#held) await new Promise<void>((resolve) => this.#idle.push(resolve))
    if (!this.#pg.closed) await this.#pg.close()
  }
}

/** Kysely's PostgreSQL dialect over an in-process PGlite instance. */
export class PGliteDialect implements Dialect {
  constructor(private readonly pg: PGlite) {}
  createAdapter(): DialectAdapter {
    return new PostgresAdapter()
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pg)
  }
  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new PostgresIntrospector(db)
  }
  createQueryCompiler(): QueryCompiler {
    return new PostgresQueryCompiler()
  }
}
