import { sql } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  markActive,
  markDormant,
  readDeliveries,
  readDeliveriesOfMany,
  rewindDormancy,
} from '../../src/delivery/deliveryStore.js'
import type { Storage } from '../../src/storage/openStorage.js'
import { describeEachDriver, openTestStorage, TEST_DATABASE_URL } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const run = TEST_DATABASE_URL ? describe : describe.skip
const CLIENT = hexToBytes(`0x${'ab'.repeat(20)}`)
const BLOCK = hexToBytes(`0x${'cd'.repeat(32)}`)

// Only PostgreSQL runs a read beside a reorg's transaction; PGlite serialises the two.
run(
  `reading deliveries while a reorg withdraws them [postgres${TEST_DATABASE_URL ? '' : ' — skipped: TEST_DATABASE_URL is not set'}]`,
  () => {
    let storage: Storage
    beforeAll(async () => {
      storage = await openTestStorage('postgres')
    })
    afterAll(async () => {
      await storage?.close()
    })

    it('never hands out an item that a concurrent reorg withdrew while it was undelivered', async () => {
      const { db } = storage
      await db.insertInto('clients').values({ id: CLIENT, next_cursor: 4 }).execute()
      await db
        .insertInto('client_deliveries')
        .values(
          [1, 2, 3].map((cursor) => ({
            client_id: CLIENT,
            cursor,
            kind: 'gap' as const,
            block_number: 10,
            block_hash: BLOCK,
            payload: JSON.stringify({ fromBlock: cursor, toBlock: cursor }),
            bytes: 40,
          })),
        )
        .execute()
      // The reorg's transaction deletes the items of the abandoned block and holds their rows…
      const reorg = await db.startTransaction().execute()
      const withdrawn = await reorg
        .deleteFrom('client_deliveries')
        .where('block_hash', '=', BLOCK)
        .where('cursor', '>=', 2)
        .returning(['cursor', 'delivered_at'])
        .execute()
      expect(withdrawn.map((row) => [row.cursor, row.delivered_at])).toEqual([
        [2, null],
        [3, null],
      ])
      // …while a client reads: it still sees all three items, and waits to mark them delivered.
      const reading = readDeliveries(db, CLIENT, {
        after: 0,
        limit: 10,
        chain: { head: undefined, finalized: undefined },
      })
      await waitUntil(
        async () => {
          const { rows } = await sql<{ n: number }>`
            select count(*)::int as n from pg_stat_activity
            where wait_event_type = 'Lock' and query ilike '%update client_deliveries%'`.execute(db)
          return rows[0]!.n > 0
        },
        10_000,
        'the read to wait for the reorg',
      )
      // The reorg commits having seen them undelivered: no `removed` notice will follow them.
      await reorg.commit().execute()
      const page = await reading
      expect(page.items.map((item) => item.cursor)).toEqual([1])
      const left = await db.selectFrom('client_deliveries').select(['cursor', 'delivered_at']).execute()
      expect(left.map((row) => [row.cursor, row.delivered_at !== null])).toEqual([[1, true]])
    })
  },
)

describeEachDriver('reading the deliveries of many clients at once', (storage) => {
  it('gives each client up to the limit after its own cursor, a long backlog taking none of the others’ share', async () => {
    const { db } = storage()
    const busy = hexToBytes(`0x${'01'.repeat(20)}`)
    const quiet = hexToBytes(`0x${'02'.repeat(20)}`)
    const gone = hexToBytes(`0x${'03'.repeat(20)}`)
    await db
      .insertInto('clients')
      .values([
        { id: busy, next_cursor: 21 },
        { id: quiet, next_cursor: 4 },
      ])
      .execute()
    const gap = (client: Uint8Array, cursor: number) => ({
      client_id: client,
      cursor,
      kind: 'gap' as const,
      payload: JSON.stringify({ fromBlock: cursor, toBlock: cursor }),
      bytes: 40,
    })
    await db
      .insertInto('client_deliveries')
      .values([
        ...Array.from({ length: 20 }, (_, i) => gap(busy, i + 1)),
        ...[1, 2, 3].map((cursor) => gap(quiet, cursor)),
      ])
      .execute()
    const read = await readDeliveriesOfMany(
      db,
      [
        { clientId: busy, after: 5 },
        { clientId: quiet, after: 1 },
        { clientId: gone, after: 0 },
      ],
      { limit: 2, chain: { head: undefined, finalized: undefined } },
    )
    expect([...read.entries()].map(([id, items]) => [id, items.map((item) => item.cursor)])).toEqual([
      [bytesToHex(busy), [6, 7]],
      [bytesToHex(quiet), [2, 3]],
    ])
  })
})

describeEachDriver('a reorg below where a client went away', (storage) => {
  it('moves the start of its gap back to the fork, and leaves later or active clients alone', async () => {
    const { db } = storage()
    const id = (byte: string): Hex => `0x${byte.repeat(20)}`
    const [away, awayEarlier, active] = [id('0a'), id('0b'), id('0c')]
    await db
      .insertInto('clients')
      .values([away, awayEarlier, active].map((id) => ({ id: hexToBytes(id) })))
      .execute()
    await db.transaction().execute(async (trx) => {
      await markDormant(trx, [away], 1_000, new Date())
      await markDormant(trx, [awayEarlier], 990, new Date())
    })
    // Blocks from 995 on are abandoned: 995–999 of the new branch were matched for nobody.
    await db.transaction().execute((trx) => rewindDormancy(trx, 995))
    const woken = await db
      .transaction()
      .execute(async (trx) => [
        await markActive(trx, away),
        await markActive(trx, awayEarlier),
        await markActive(trx, active),
      ])
    expect(woken).toEqual([{ awayFrom: 995 }, { awayFrom: 990 }, undefined])
  })
})
