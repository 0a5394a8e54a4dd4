import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { migrateToLatest } from '../../src/storage/migrateToLatest.js'
import { openStorage } from '../../src/storage/openStorage.js'
import { StorageBusyError, StorageUnavailableError } from '../../src/storage/StorageUnavailableError.js'
import { urgently } from '../../src/storage/urgency.js'
import { describeEachDriver, openTestStorage, TEST_DATABASE_URL } from '../support/storage.js'

const bytes = (fill: number, length = 20) => new Uint8Array(length).fill(fill)

describeEachDriver('storage', (storage) => {
  it('migrations are applied and re-running them applies nothing', async () => {
    expect(await migrateToLatest(storage())).toEqual([])
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables
      where table_schema = current_schema() and table_type = 'BASE TABLE'`.execute(storage().db)
    expect(tables.rows.map((row) => row.table_name)).toEqual(
      expect.arrayContaining([
        'blocks',
        'clients',
        'client_contracts',
        'client_tx_filters',
        'client_deliveries',
        'deployed_contracts',
        'verified_txs',
        'contract_states',
        'client_submitted_txs',
        'wallet_states',
        'wallet_state_versions',
      ]),
    )
  })

  it('returns the same JS types on both drivers', async () => {
    const { db } = storage()
    const hash = bytes(7, 32)
    await db
      .insertInto('blocks')
      .values({
        hash,
        number: 2 ** 40,
        parent_hash: bytes(6, 32),
        canonical: true,
        timestamp: 1_700_000_000,
        state_root: bytes(1, 32),
        receipts_root: bytes(2, 32),
        transactions_root: bytes(3, 32),
        logs_bloom: bytes(0, 256),
        header: JSON.stringify({ nested: { a: [1, 'x'] } }),
        tx_count: 0,
        log_count: 0,
      })
      .execute()
    const row = await db.selectFrom('blocks').selectAll().where('hash', '=', hash).executeTakeFirstOrThrow()
    expect(row.number).toBe(2 ** 40)
    expect(typeof row.number).toBe('number')
    expect(row.hash).toBeInstanceOf(Uint8Array)
    expect(Array.from(row.hash)).toEqual(Array.from(hash))
    expect(row.header).toEqual({ nested: { a: [1, 'x'] } })
    expect(row.stored_at).toBeInstanceOf(Date)
  })

  it('allows exactly one canonical block per height (invariant 1)', async () => {
    const { db } = storage()
    const block = (fill: number, canonical: boolean) => ({
      hash: bytes(fill, 32),
      number: 10,
      parent_hash: bytes(9, 32),
      canonical,
      timestamp: 1,
      state_root: bytes(1, 32),
      receipts_root: bytes(2, 32),
      transactions_root: bytes(3, 32),
      logs_bloom: bytes(0, 256),
      header: '{}',
      tx_count: 0,
      log_count: 0,
    })
    await db.insertInto('blocks').values(block(20, true)).execute()
    await db.insertInto('blocks').values(block(21, false)).execute()
    await expect(db.insertInto('blocks').values(block(22, true)).execute()).rejects.toThrow(
      /unique|duplicate/i,
    )
  })

  it('deleting a client deletes everything of its own (invariant 4)', async () => {
    const { db } = storage()
    const me = bytes(0xa1)
    const other = bytes(0xa2)
    const contract = bytes(0xc1)
    await db
      .insertInto('clients')
      .values([{ id: me }, { id: other }])
      .execute()
    await db.insertInto('deployed_contracts').values({ address: contract }).execute()
    const interests = await db
      .insertInto('client_contracts')
      .values([
        { client_id: me, address: contract },
        { client_id: other, address: contract },
      ])
      .returning('id')
      .execute()
    const mine = interests[0]!.id
    await db.insertInto('client_usage').values({ client_id: me }).execute()
    await db
      .insertInto('sessions')
      .values({ token_hash: bytes(1, 32), client_id: me, expires_at: new Date(Date.now() + 60_000) })
      .execute()
    await db
      .insertInto('client_tx_filters')
      .values({ client_contract_id: mine, client_id: me, code: 'all', args: '[]' })
      .execute()
    await db
      .insertInto('client_state_watches')
      .values({ client_contract_id: mine, client_id: me, kind: 'balance', args: '{}' })
      .execute()
    await db
      .insertInto('client_deliveries')
      .values({ client_id: me, cursor: 1, kind: 'tx', client_contract_id: mine, payload: '{}', bytes: 2 })
      .execute()
    await db
      .insertInto('client_submitted_txs')
      .values({
        client_id: me,
        hash: bytes(5, 32),
        raw: bytes(1, 10),
        sender: bytes(3),
        nonce: 0,
        status: 'pending',
        expires_at: new Date(),
      })
      .execute()
    await db
      .insertInto('wallet_states')
      .values({ client_id: me, version: 1, etag: 'x', data: bytes(9, 8) })
      .execute()
    await db
      .insertInto('wallet_state_versions')
      .values({ client_id: me, version: 1, etag: 'x', data: bytes(9, 8) })
      .execute()

    await db.deleteFrom('clients').where('id', '=', me).execute()

    for (const table of [
      'client_usage',
      'sessions',
      'client_tx_filters',
      'client_state_watches',
      'client_deliveries',
      'client_submitted_txs',
      'wallet_states',
      'wallet_state_versions',
    ] as const) {
      const left = await db.selectFrom(table).select('client_id').where('client_id', '=', me).execute()
      expect(left, table).toHaveLength(0)
    }
    const interestsLeft = await db.selectFrom('client_contracts').select('client_id').execute()
    expect(interestsLeft.map((row) => row.client_id[0])).toEqual([0xa2])
    // The other client's interest keeps the contract row alive (invariant 5).
    expect(await db.selectFrom('deployed_contracts').select('address').execute()).toHaveLength(1)
    await db.deleteFrom('clients').where('id', '=', other).execute()
  })

  it('drops a deployed_contracts row with its last interest (invariant 5)', async () => {
    const { db } = storage()
    const a = bytes(0xb1)
    const b = bytes(0xb2)
    const contract = bytes(0xcc)
    await db
      .insertInto('clients')
      .values([{ id: a }, { id: b }])
      .execute()
    await db.insertInto('deployed_contracts').values({ address: contract }).execute()
    await db
      .insertInto('client_contracts')
      .values([
        { client_id: a, address: contract },
        { client_id: b, address: contract },
      ])
      .execute()
    const count = async () =>
      (await db.selectFrom('deployed_contracts').select('address').where('address', '=', contract).execute())
        .length
    await db.deleteFrom('client_contracts').where('client_id', '=', a).execute()
    expect(await count()).toBe(1)
    await db.deleteFrom('clients').where('id', '=', b).execute()
    expect(await count()).toBe(0)
    await db.deleteFrom('clients').where('id', '=', a).execute()
  })

  it('reports affected rows and serialises concurrent transactions', async () => {
    const { db } = storage()
    const id = bytes(0xd1)
    await db.insertInto('clients').values({ id }).execute()
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction().execute(async (trx) => {
          const row = await trx
            .selectFrom('clients')
            .select('next_cursor')
            .where('id', '=', id)
            .forUpdate()
            .executeTakeFirstOrThrow()
          await new Promise((resolve) => setTimeout(resolve, 1))
          await trx
            .updateTable('clients')
            .set({ next_cursor: row.next_cursor + 1 })
            .where('id', '=', id)
            .execute()
        }),
      ),
    )
    const row = await db
      .selectFrom('clients')
      .select('next_cursor')
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row.next_cursor).toBe(21)
    const updated = await db
      .updateTable('clients')
      .set({ plan: 'pro' })
      .where('id', '=', id)
      .executeTakeFirst()
    expect(updated.numUpdatedRows).toBe(1n)
    const deleted = await db.deleteFrom('clients').where('id', '=', id).executeTakeFirst()
    expect(deleted.numDeletedRows).toBe(1n)
    const none = await db.deleteFrom('clients').where('id', '=', id).executeTakeFirst()
    expect(none.numDeletedRows).toBe(0n)
  })

  it('rolls back a failed transaction completely', async () => {
    const { db } = storage()
    const id = bytes(0xe1)
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('clients').values({ id }).execute()
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    expect(await db.selectFrom('clients').select('id').where('id', '=', id).execute()).toHaveLength(0)
  })

  it('delivers notifications to listeners', async () => {
    const received: string[] = []
    const unlisten = await storage().listen('wb_test', (payload) => received.push(payload))
    await storage().notify('wb_test', 'hello')
    const deadline = Date.now() + 5000
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    await unlisten()
    expect(received).toEqual(['hello'])
  })
})

describe('storage drivers', () => {
  it('PGlite in a data directory keeps its rows across a reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wb-pglite-'))
    try {
      const first = await openStorage({ driver: 'pglite', dataDir: dir })
      await migrateToLatest(first)
      await first.db.insertInto('service_state').values({ key: 'k', value: '{"v":1}' }).execute()
      await first.close()
      const second = await openStorage({ driver: 'pglite', dataDir: dir })
      expect(await migrateToLatest(second)).toEqual([])
      const row = await second.db.selectFrom('service_state').selectAll().executeTakeFirstOrThrow()
      expect(row.value).toEqual({ v: 1 })
      await second.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('PGlite serves urgent statements before the others waiting for its connection, and in order among themselves', async () => {
    const storage = await openTestStorage('pglite')
    try {
      const { db } = storage
      const order: string[] = []
      const ran = (name: string) => () => void order.push(name)
      let release!: () => void
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      let inside!: () => void
      const held = new Promise<void>((resolve) => {
        inside = resolve
      })
      // A transaction holds the one connection while the others queue up behind it.
      const holder = db.transaction().execute(async (trx) => {
        await sql`select 1`.execute(trx)
        inside()
        await released
      })
      await held
      const waiting = [
        sql`select 1`.execute(db).then(ran('normal 1')),
        urgently(() => sql`select 1`.execute(db)).then(ran('urgent 1')),
        sql`select 1`.execute(db).then(ran('normal 2')),
        urgently(() => sql`select 1`.execute(db)).then(ran('urgent 2')),
      ]
      // Every one of them is queued (each asks for the connection in a microtask of its own).
      await new Promise((resolve) => setImmediate(resolve))
      release()
      await Promise.all([holder, ...waiting])
      expect(order).toEqual(['urgent 1', 'urgent 2', 'normal 1', 'normal 2'])
    } finally {
      await storage.close()
    }
  })

  it('an unreachable PostgreSQL is StorageUnavailableError, not a hang', async () => {
    const storage = await openStorage({
      driver: 'postgres',
      url: 'postgres://postgres@127.0.0.1:1/none',
      connectTimeoutMs: 2000,
    })
    await expect(storage.ping()).rejects.toBeInstanceOf(StorageUnavailableError)
    await storage.close()
  })

  it.skipIf(!TEST_DATABASE_URL)(
    'a PostgreSQL pool with every connection busy past its wait bound is StorageBusyError (503), not an internal error',
    async () => {
      const storage = await openStorage({
        driver: 'postgres',
        url: TEST_DATABASE_URL!,
        poolSize: 1,
        connectTimeoutMs: 300,
      })
      let release = () => {}
      const held = new Promise<void>((resolve) => {
        release = resolve
      })
      let entered = () => {}
      const inside = new Promise<void>((resolve) => {
        entered = resolve
      })
      try {
        const holder = storage.db.transaction().execute(async () => {
          entered()
          await held
        })
        await inside
        const refused = await sql`select 1`.execute(storage.db).then(
          () => undefined,
          (error: unknown) => error,
        )
        expect(refused).toBeInstanceOf(StorageBusyError)
        expect(refused).toMatchObject({ code: 'STORAGE_BUSY', status: 503 })
        release()
        await holder
        // The pool recovers: the next statement gets the freed connection.
        await expect(sql`select 1`.execute(storage.db)).resolves.toBeDefined()
      } finally {
        release()
        await storage.close()
      }
    },
  )
})
