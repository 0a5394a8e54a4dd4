import { mkdirSync } from 'node:fs'
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { PGliteDialect } from './drivers/PGliteDialect.js'
import { PrivateNodeFS } from './drivers/PrivateNodeFS.js'
import {
  isPoolWaitTimeout,
  isStorageUnavailable,
  StorageBusyError,
  StorageUnavailableError,
} from './StorageUnavailableError.js'
import type { DB } from './schema.js'

export type StorageOptions =
  | { driver: 'pglite'; dataDir: string }
  /** An in-memory PGlite loaded from a dump (tests start from a migrated template this way). */
  | { driver: 'pglite'; loadDataDir: Blob }
  | { driver: 'postgres'; url: string; poolSize?: number; schema?: string; connectTimeoutMs?: number }

export type Storage = {
  db: Kysely<DB>
  driver: 'pglite' | 'postgres'
  /** The PostgreSQL schema the tables live in, when not the default search path. */
  schema: string | undefined
  /** Throws StorageUnavailableError when the database does not answer. */
  ping(): Promise<void>
  listen(channel: string, handler: (payload: string) => void): Promise<() => Promise<void>>
  notify(channel: string, payload: string): Promise<void>
  /**
   * A connection of its own, outside the pool, for what lives as long as a session (advisory
   * locks); undefined on PGlite, which only one process can open.
   */
  openSession: (() => Promise<DedicatedSession>) | undefined
  /** The PGlite instance, for dumps in tests; undefined on PostgreSQL. */
  pglite: PGlite | undefined
  close(): Promise<void>
}

/** One database session; `lost` settles when its connection ends, for whatever reason. */
export type DedicatedSession = {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<Row[]>
  readonly lost: Promise<Error>
  close(): Promise<void>
}

const INT8 = 20

/**
 * PGlite runs PostgreSQL in one WebAssembly memory, which grows as pages are touched and never
 * shrinks: initdb's 128 MB of shared buffers became ~100 MB of the backend's resident memory once
 * a few queries had read through them. One process of one connection needs far less.
 */
export const PGLITE_MEMORY_PARAMS = ['-c', 'shared_buffers=16MB']

/**
 * Opens the database on either driver. Both return the same JS types: bigint columns as numbers
 * (block numbers and cursors stay far below 2^53), bytea as Uint8Array, timestamptz as Date,
 * jsonb parsed.
 */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  return options.driver === 'pglite' ? openPGlite(options) : openPostgres(options)
}

async function openPGlite(options: { dataDir: string } | { loadDataDir: Blob }): Promise<Storage> {
  if ('dataDir' in options) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  const instance = new PGlite({
    ...('dataDir' in options
      ? { fs: new PrivateNodeFS(options.dataDir) }
      : { loadDataDir: options.loadDataDir }),
    parsers: { [pgliteTypes.INT8]: (value: string) => Number(value) },
    startParams: [...PGlite.defaultStartParams, ...PGLITE_MEMORY_PARAMS],
  })
  await instance.waitReady
  const db = new Kysely<DB>({ dialect: new PGliteDialect(instance) })
  return {
    db,
    driver: 'pglite',
    schema: undefined,
    openSession: undefined,
    pglite: instance,
    async ping() {
      if (instance.closed) throw new StorageUnavailableError(new Error('PGlite is closed'))
      await sql`select 1`.execute(db)
    },
    async listen(channel, handler) {
      const unlisten = await instance.listen(channel, handler)
      return async () => {
        if (!instance.closed) await unlisten()
      }
    },
    async notify(channel, payload) {
      await sql`select pg_notify(${channel}, ${payload})`.execute(db)
    },
    async close() {
      await db.destroy()
    },
  }
}

async function openPostgres(options: {
  url: string
  poolSize?: number
  schema?: string
  connectTimeoutMs?: number
}): Promise<Storage> {
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8
        ? (value: string) => Number(value)
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  }
  const config: pg.PoolConfig = {
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    types,
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  }
  const pool = new pg.Pool(config)
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => {})
  const guardedPool = {
    connect: async () => {
      try {
        return await pool.connect()
      } catch (error) {
        // A full pool while the database answers is load, not an outage: only a wait with open
        // connections all busy counts as busy; a wait with none open is the database out of reach.
        if (isPoolWaitTimeout(error) && pool.totalCount > 0) throw new StorageBusyError(error)
        throw isStorageUnavailable(error) || isPoolWaitTimeout(error)
          ? new StorageUnavailableError(error)
          : error
      }
    },
    end: () => pool.end(),
  }
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: guardedPool as unknown as pg.Pool }) })
  const listeners: pg.Client[] = []
  return {
    db,
    driver: 'postgres',
    schema: options.schema,
    pglite: undefined,
    async openSession() {
      const client = new pg.Client({ ...config })
      const lost = new Promise<Error>((resolve) => {
        client.on('error', resolve)
        client.on('end', () => resolve(new Error('the database session ended')))
      })
      try {
        await client.connect()
      } catch (error) {
        throw isStorageUnavailable(error) ? new StorageUnavailableError(error) : error
      }
      return {
        lost,
        async query(text, values) {
          return (await client.query(text, values)).rows
        },
        async close() {
          await client.end().catch(() => {})
        },
      }
    },
    async ping() {
      try {
        await sql`select 1`.execute(db)
      } catch (error) {
        throw isStorageUnavailable(error) ? new StorageUnavailableError(error) : error
      }
    },
    async listen(channel, handler) {
      // LISTEN needs a session of its own, outside the pool.
      const client = new pg.Client({ ...config })
      client.on('error', () => {})
      client.on('notification', (message) => {
        if (message.channel === channel) handler(message.payload ?? '')
      })
      await client.connect()
      await client.query(`listen ${pg.escapeIdentifier(channel)}`)
      listeners.push(client)
      return async () => {
        listeners.splice(listeners.indexOf(client), 1)
        await client.end().catch(() => {})
      }
    },
    async notify(channel, payload) {
      await sql`select pg_notify(${channel}, ${payload})`.execute(db)
    },
    async close() {
      await Promise.all(listeners.splice(0).map((client) => client.end().catch(() => {})))
      await db.destroy()
    },
  }
}
