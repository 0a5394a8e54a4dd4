import { type Kysely, sql } from 'kysely'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { expect, it } from 'vitest'
import { createSession } from '../../src/clients/auth/sessionStore.js'
import { putInterest } from '../../src/clients/interests/interestStore.js'
import { ClientPruner } from '../../src/clients/lifecycle/ClientPruner.js'
import { StageTransitions } from '../../src/clients/lifecycle/StageTransitions.js'
import { WatchIndex } from '../../src/contract-state/WatchIndex.js'
import { DeliveryQueue } from '../../src/delivery/DeliveryQueue.js'
import { Notifier } from '../../src/delivery/Notifier.js'
import { FilterIndex } from '../../src/filters/FilterIndex.js'
import type { DB } from '../../src/storage/schema.js'
import { writeWalletState } from '../../src/wallet-state/walletStateStore.js'
import { describeEachDriver } from '../support/storage.js'

const DAY = 86_400_000
/** Now: sessions and the database keep real time; the policy's clock moves on from here. */
const T0 = Date.now()
const policy = {
  dormantAfterSeconds: 30 * 86_400,
  absentAfterSeconds: 86_400,
  dormantAbsentBacklogItems: 10_000,
  dormantAbsentWork: 1_000_000,
  pruneAfterSeconds: 90 * 86_400,
  walletStateRetentionSeconds: 365 * 86_400,
}

/** Client labels → ids, and shared addresses → labels, so that every row can be named. */
const clientIds: Record<string, Hex> = {
  A: `0x${'a1'.repeat(20)}`, // active, in contact
  B: `0x${'b2'.repeat(20)}`, // not seen for 31 days
  C: `0x${'c3'.repeat(20)}`, // away 2 days with a large backlog
  W: `0x${'d4'.repeat(20)}`, // away 2 days, its filters cost a lot meanwhile
  D: `0x${'e5'.repeat(20)}`, // away 2 days, nothing remarkable
  P: `0x${'f6'.repeat(20)}`, // pruned 400 days ago
}
const addresses: Record<string, Hex> = {
  X: `0x${'11'.repeat(20)}`, // watched by A and B
  Y: `0x${'22'.repeat(20)}`, // A only
  Z: `0x${'33'.repeat(20)}`, // B only
  Q: `0x${'44'.repeat(20)}`, // nobody (left behind)
}
const nameOf = (bytes: Uint8Array, table: Record<string, Hex>) =>
  Object.entries(table).find(([, hex]) => hex === bytesToHex(bytes))?.[0] ?? bytesToHex(bytes)

/** Every row of every table that the policy touches, named by its owner or its address. */
async function snapshot(db: Kysely<DB>): Promise<string[]> {
  const rows: string[] = []
  const who = (bytes: Uint8Array) => nameOf(bytes, clientIds)
  const where = (bytes: Uint8Array) => nameOf(bytes, addresses)
  for (const r of await db.selectFrom('clients').select(['id', 'stage']).execute())
    rows.push(`clients:${who(r.id)}:${r.stage}`)
  for (const r of await db.selectFrom('client_usage').select('client_id').execute())
    rows.push(`client_usage:${who(r.client_id)}`)
  for (const r of await db.selectFrom('sessions').select(['client_id', 'expires_at']).execute())
    rows.push(`sessions:${who(r.client_id)}:${r.expires_at.getTime() < T0 ? 'expired' : 'live'}`)
  for (const r of await db.selectFrom('client_contracts').select(['client_id', 'address']).execute())
    rows.push(`client_contracts:${who(r.client_id)}:${where(r.address)}`)
  const filters = db
    .selectFrom('client_tx_filters as f')
    .innerJoin('client_contracts as i', 'i.id', 'f.client_contract_id')
    .select(['f.client_id', 'i.address'])
  for (const r of await filters.execute())
    rows.push(`client_tx_filters:${who(r.client_id)}:${where(r.address)}`)
  const watches = db
    .selectFrom('client_state_watches as w')
    .innerJoin('client_contracts as i', 'i.id', 'w.client_contract_id')
    .select(['w.client_id', 'i.address'])
  for (const r of await watches.execute())
    rows.push(`client_state_watches:${who(r.client_id)}:${where(r.address)}`)
  for (const r of await db.selectFrom('client_deliveries').select(['client_id', 'cursor']).execute())
    rows.push(`client_deliveries:${who(r.client_id)}:${r.cursor}`)
  for (const r of await db.selectFrom('client_submitted_txs').select('client_id').execute())
    rows.push(`client_submitted_txs:${who(r.client_id)}`)
  for (const r of await db.selectFrom('wallet_states').select('client_id').execute())
    rows.push(`wallet_states:${who(r.client_id)}`)
  for (const r of await db.selectFrom('wallet_state_versions').select(['client_id', 'version']).execute())
    rows.push(`wallet_state_versions:${who(r.client_id)}:${r.version}`)
  for (const r of await db.selectFrom('deployed_contracts').select('address').execute())
    rows.push(`deployed_contracts:${where(r.address)}`)
  for (const r of await db.selectFrom('contract_states').select('address').execute())
    rows.push(`contract_states:${where(r.address)}`)
  for (const r of await db.selectFrom('verified_txs').select('tx_index').execute())
    rows.push(`verified_txs:${r.tx_index}`)
  for (const r of await db.selectFrom('blocks').select('number').execute()) rows.push(`blocks:${r.number}`)
  return rows.sort()
}

const without = (rows: string[], ...gone: RegExp[]) => rows.filter((row) => !gone.some((g) => g.test(row)))
const restaged = (rows: string[], client: string, from: string, to: string) =>
  rows.map((row) => (row === `clients:${client}:${from}` ? `clients:${client}:${to}` : row)).sort()

describeEachDriver('the abandoned-client policy', (storage) => {
  it('makes dormant, prunes and deletes exactly the rows it should, and collects garbage', async () => {
    const { db } = storage()
    const at = (ms: number) => new Date(ms)
    const blockHash = `0x${'bb'.repeat(32)}` as Hex
    await db
      .insertInto('blocks')
      .values({
        hash: hexToBytes(blockHash),
        number: 10,
        parent_hash: new Uint8Array(32),
        canonical: true,
        timestamp: 1,
        state_root: new Uint8Array(32),
        receipts_root: new Uint8Array(32),
        transactions_root: new Uint8Array(32),
        logs_bloom: new Uint8Array(256),
        header: JSON.stringify({}),
        tx_count: 3,
        log_count: 0,
      })
      .execute()
    // Verified transactions 0 (A's and B's item), 1 (B's item only), 2 (nobody's: garbage already).
    for (const txIndex of [0, 1, 2])
      await db
        .insertInto('verified_txs')
        .values({
          block_hash: hexToBytes(blockHash),
          tx_index: txIndex,
          tx_hash: new Uint8Array(32).fill(txIndex + 1),
          block_number: 10,
          tx: JSON.stringify({}),
          receipt: JSON.stringify({ logs: [] }),
        })
        .execute()

    const seen: Record<string, number> = {
      A: T0,
      B: T0 - 31 * DAY,
      C: T0 - 2 * DAY,
      W: T0 - 2 * DAY,
      D: T0 - 2 * DAY,
    }
    for (const [label, id] of Object.entries(clientIds)) {
      const pruned = label === 'P'
      await db
        .insertInto('clients')
        .values({
          id: hexToBytes(id),
          last_seen_at: at(pruned ? T0 - 500 * DAY : seen[label]!),
          stage: pruned ? 'pruned' : 'active',
          stage_changed_at: at(pruned ? T0 - 400 * DAY : T0 - 100 * DAY),
        })
        .execute()
      await db
        .insertInto('client_usage')
        .values({ client_id: hexToBytes(id), work_while_absent: label === 'W' ? 2_000_000 : 10 })
        .execute()
      await writeWalletState(db, hexToBytes(id), new Uint8Array([1, 2, 3]), { absent: true }, 5)
      if (pruned) continue
      await createSession(db, hexToBytes(id), {
        ttlSeconds: 1000 * 86_400,
        maxLifetimeSeconds: 1000 * 86_400,
        maxPerClient: 10,
      })
      await db
        .insertInto('client_submitted_txs')
        .values({
          client_id: hexToBytes(id),
          hash: new Uint8Array(32).fill(9),
          raw: new Uint8Array([1]),
          sender: new Uint8Array(20),
          nonce: 0,
          status: 'pending',
          expires_at: at(T0 + DAY),
        })
        .execute()
    }
    // A also has a session that expired long ago: garbage.
    await db
      .insertInto('sessions')
      .values({
        token_hash: new Uint8Array(32).fill(3),
        client_id: hexToBytes(clientIds.A!),
        expires_at: at(T0 - DAY),
      })
      .execute()
    const interests: [string, string][] = [
      ['A', 'X'],
      ['A', 'Y'],
      ['B', 'X'],
      ['B', 'Z'],
      ['C', 'Y'],
      ['W', 'Y'],
      ['D', 'Y'],
    ]
    const interestIds = new Map<string, number>()
    for (const [client, address] of interests) {
      const { stored } = await putInterest(db, hexToBytes(clientIds[client]!), addresses[address]!, {
        filters: [{ code: 'all', args: [], cost: 2 }],
        watches: [{ kind: 'balance', args: [] }],
        startBlock: null,
        abi: null,
        maxInterests: 100,
      })
      interestIds.set(`${client}${address}`, stored.clientContractId)
    }
    await db
      .insertInto('deployed_contracts')
      .values({ address: hexToBytes(addresses.Q!) })
      .execute()
    for (const address of ['X', 'Z', 'Q'])
      await db
        .insertInto('contract_states')
        .values({
          address: hexToBytes(addresses[address]!),
          block_hash: hexToBytes(blockHash),
          block_number: 10,
          watch_key: 'balance',
          value: JSON.stringify('0x1'),
        })
        .execute()

    // Queue items through the real queue: A and B on transaction 0, B on transaction 1.
    const filters = await FilterIndex.load(db)
    const watchIndex = await WatchIndex.load(db)
    const queue = new DeliveryQueue({
      db,
      notifier: new Notifier(storage()),
      logger: pino({ level: 'silent' }),
      metrics: new Registry(),
      onDormant: (ids) => {
        for (const id of ids) {
          filters.removeClient(id)
          watchIndex.removeClient(id)
        }
      },
    })
    // Live matching has reached block 20: clients made dormant now miss from block 21.
    queue.nextBlock = 21
    const item = (client: string, address: string, txIndex: number) => ({
      clientId: clientIds[client]!,
      kind: 'tx' as const,
      clientContractId: interestIds.get(`${client}${address}`)!,
      filterId: null,
      blockNumber: 10,
      blockHash,
      txHash: bytesToHex(new Uint8Array(32).fill(txIndex + 1)),
      txIndex,
      logIndex: null,
      payload: { filterIds: [] },
    })
    await queue.transaction((writer) =>
      writer.enqueue([item('A', 'X', 0), item('B', 'X', 0), item('B', 'Z', 1)]),
    )
    await db
      .updateTable('clients')
      .set({ backlog_items: 20_000 })
      .where('id', '=', hexToBytes(clientIds.C!))
      .execute()
    expect(filters.size).toBe(7)

    const metrics = new Registry()
    let now = T0
    const pruner = new ClientPruner({
      indexes: { db, filters, contractState: { index: watchIndex } },
      policy,
      // Between follow cycles: no follower runs here.
      stages: { follower: { exclusive: (fn) => fn(), snapshot: () => ({}) as never }, queue },
      finalized: () => 15,
      transitions: new StageTransitions(metrics),
      logger: pino({ level: 'silent' }),
      metrics,
      intervalMs: 60_000,
      now: () => now,
    })

    // Pass 1: B (absent), C (absent with a backlog) and W (absent, costly) go dormant; P's wallet
    // state retention is over, so P goes whole; garbage goes: the unreferenced transaction, the
    // value and the row of the contract nobody watches, the expired session.
    const before = await snapshot(db)
    const first = await pruner.run()
    expect(first).toMatchObject({ dormant: 3, pruned: 0, deleted: 1 })
    expect(first.garbage).toMatchObject({ verifiedTxs: 1, contractStates: 1, contracts: 1, sessions: 1 })
    let expected = without(
      before,
      /:P(:|$)/,
      /^verified_txs:2$/,
      /^contract_states:Q$/,
      /^deployed_contracts:Q$/,
      /^sessions:A:expired$/,
    )
    for (const client of ['B', 'C', 'W']) expected = restaged(expected, client, 'active', 'dormant')
    expect(await snapshot(db)).toEqual(expected)
    // Their filters left the live index; A's and D's stayed.
    expect(filters.size).toBe(3)
    const stages = await db
      .selectFrom('clients')
      .select(['id', 'dormant_from_block'])
      .where('stage', '=', 'dormant')
      .execute()
    expect(stages.map((s) => s.dormant_from_block)).toEqual([21, 21, 21])
    const transitions = await metrics.getSingleMetricAsString('wallet_backend_client_stage_transitions_total')
    expect(transitions).toContain('to="dormant",reason="absent"} 1')
    expect(transitions).toContain('to="dormant",reason="absent-backlog"} 1')
    expect(transitions).toContain('to="dormant",reason="absent-work"} 1')
    expect(transitions).toContain('to="deleted",reason="retention"} 1')

    // Pass 2, 91 days on (A and D kept in contact): the dormant ones are pruned. Their interests,
    // filters, watches, queues, submissions and sessions go; identity, usage and wallet state stay.
    // Z was theirs alone: its contract row and its value go; the transaction only B's item
    // referred to goes; X stays for A.
    now = T0 + 91 * DAY
    await db
      .updateTable('clients')
      .set({ last_seen_at: at(now - 3_600_000) })
      .where('id', 'in', [hexToBytes(clientIds.A!), hexToBytes(clientIds.D!)])
      .execute()
    const second = await pruner.run()
    expect(second).toMatchObject({ dormant: 0, pruned: 3, deleted: 0 })
    expected = without(
      expected,
      /^(client_contracts|client_tx_filters|client_state_watches|client_deliveries|client_submitted_txs|sessions):[BCW]:/,
      /^(client_submitted_txs|sessions):[BCW]/,
      /^deployed_contracts:Z$/,
      /^contract_states:Z$/,
      /^verified_txs:1$/,
    )
    for (const client of ['B', 'C', 'W']) expected = restaged(expected, client, 'dormant', 'pruned')
    expect(await snapshot(db)).toEqual(expected)
    expect(expected).toEqual(
      expect.arrayContaining(['wallet_states:B', 'client_usage:B', 'deployed_contracts:X', 'verified_txs:0']),
    )

    // Pass 3, past the wallet-state retention: the pruned ones go whole, nothing else does.
    now = T0 + (91 + 366) * DAY
    await db
      .updateTable('clients')
      .set({ last_seen_at: at(now - 3_600_000) })
      .where('id', 'in', [hexToBytes(clientIds.A!), hexToBytes(clientIds.D!)])
      .execute()
    const third = await pruner.run()
    expect(third).toMatchObject({ dormant: 0, pruned: 0, deleted: 3 })
    expected = without(expected, /:[BCW](:|$)/)
    expect(await snapshot(db)).toEqual(expected)
    expect(await snapshot(db)).toEqual(
      expect.arrayContaining([
        'clients:A:active',
        'clients:D:active',
        'wallet_states:A',
        'client_deliveries:A:1',
      ]),
    )
    expect(pruner.status()).toMatchObject({ running: false, lastRun: { deleted: 3 } })
    const counts = await sql<{ n: number }>`select count(*)::int as n from clients`.execute(db)
    expect(counts.rows[0]!.n).toBe(2)
  })
})
