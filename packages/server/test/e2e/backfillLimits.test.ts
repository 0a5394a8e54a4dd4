import type { WalletBackendClient, WalletBackendError } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployLogger, mineActivity } from '../support/chainActivity.js'
import { startFaultyNode } from '../support/faultyNode.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let backend: TestBackend

beforeAll(async () => {
  anvil = await startAnvil()
  await anvil.mine(3_000)
  backend = await startBackend(anvil, {
    plans: JSON.stringify({
      metered: { costPerSecond: 1, costBurst: 80 },
      small: { backfillBlocks: 100 },
      roomy: { costPerSecond: 1000, costBurst: 100000 },
    }),
  })
  await backend.synced()
}, 120_000)
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

const everyTx = { filters: [{ code: 'all' as const, args: [] }] }

async function onPlan(plan: string): Promise<WalletBackendClient> {
  const client = backend.client()
  const { clientId } = await client.signIn()
  expect((await backend.admin('PUT', `/clients/${clientId}/plan`, { plan })).status).toBe(200)
  return client
}

async function backfillOf(client: WalletBackendClient, address: `0x${string}`) {
  const interest = (await client.listInterests()).find((i) => i.address === address.toLowerCase())
  return interest?.backfill
}

const done = async (client: WalletBackendClient, address: `0x${string}`) =>
  (await backfillOf(client, address))?.status === 'done'

/** The interest's back-fill as stored, for a client whose own requests are refused while it pays. */
function storedJob(address: string) {
  return backend.service
    .storage!.db.selectFrom('backfill_jobs as j')
    .innerJoin('client_contracts as i', 'i.id', 'j.client_contract_id')
    .select(['j.status', 'j.next_block', 'j.updated_at'])
    .where('i.address', '=', Buffer.from(address.slice(2), 'hex'))
    .executeTakeFirst()
}

const storedStatus = async (address: string) => (await storedJob(address))?.status

describe('back-fills', () => {
  it("charge the node calls they make to the client's cost limit and usage, not its neighbour's", async () => {
    const [heavy, light] = [await onPlan('metered'), await onPlan('metered')]
    const contract = `0x${'b1'.repeat(20)}` as const
    const head = await anvil.blockNumber()
    // 401 blocks read in full (block and receipts): 800 node calls, 80 units at 10 calls a unit.
    await heavy.putInterest(contract, { ...everyTx, startBlock: head - 400 })
    await light.putInterest(`0x${'b2'.repeat(20)}` as const, everyTx)
    await waitUntil(
      async () => (await storedStatus(contract)) === 'done',
      60_000,
      'the back-fill to finish',
      200,
    )

    expect((await light.usage()).usage.backfillCalls).toBe(0)
    const refused = await heavy.usage().catch((error: WalletBackendError) => error)
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', status: 429 })
    const row = await backend.service
      .storage!.db.selectFrom('client_usage')
      .select('backfill_calls')
      .where('client_id', '=', Buffer.from(heavy.clientId!.slice(2), 'hex'))
      .executeTakeFirstOrThrow()
    expect(Number(row.backfill_calls)).toBeGreaterThanOrEqual(401)
  })

  it("are refused with 409 BACKFILL_TOO_LARGE beyond the plan's blocks of history, and accepted within them", async () => {
    const client = await onPlan('small')
    const contract = `0x${'c1'.repeat(20)}` as const
    const head = await anvil.blockNumber()
    const refused = await client
      .putInterest(contract, { ...everyTx, startBlock: head - 200 })
      .catch((error: WalletBackendError) => error)
    expect(refused).toMatchObject({ code: 'BACKFILL_TOO_LARGE', status: 409 })
    expect(await client.listInterests()).toEqual([])
    const accepted = await client.putInterest(contract, { ...everyTx, startBlock: head - 50 })
    expect(accepted.backfill).toMatchObject({ status: 'pending', fromBlock: head - 50 })
    await waitUntil(() => done(client, contract), 30_000, 'the small back-fill to finish', 100)
  })

  it("take turns between clients: a small back-fill finishes before another client's huge one started first", async () => {
    const [huge, small] = [backend.client(), backend.client()]
    const [hugeContract, smallContract] = [`0x${'d1'.repeat(20)}`, `0x${'d2'.repeat(20)}`] as const
    const head = await anvil.blockNumber()
    await huge.putInterest(hugeContract, { ...everyTx, startBlock: 0 })
    await small.putInterest(smallContract, { ...everyTx, startBlock: head - 5 })
    await waitUntil(
      async () =>
        (await storedStatus(hugeContract)) === 'done' && (await storedStatus(smallContract)) === 'done',
      120_000,
      'both back-fills to finish',
      200,
    )
    const finished = async (address: string) => (await storedJob(address))!.updated_at.getTime()
    expect(await finished(smallContract)).toBeLessThan(await finished(hugeContract))
  }, 150_000)
})

describe('a client over its cost budget', () => {
  it('has its back-fill wait for the budget to drain, while the same back-fill of a client with budget goes on', async () => {
    const [poor, rich] = [await onPlan('metered'), await onPlan('roomy')]
    const [poorContract, richContract] = [`0x${'f1'.repeat(20)}`, `0x${'f2'.repeat(20)}`] as const
    const from = (await anvil.blockNumber()) - 2_000
    await poor.putInterest(poorContract, { ...everyTx, startBlock: from })
    await rich.putInterest(richContract, { ...everyTx, startBlock: from })
    await waitUntil(
      async () => (await storedStatus(richContract)) === 'done',
      120_000,
      'the back-fill to finish',
      200,
    )
    // 2,000 blocks are 400 units at 10 calls a unit: the metered client (burst 80, 1 a second)
    // has read about its burst's worth and then what drained, far from all of it.
    const job = (await storedJob(poorContract))!
    expect(job.status).toBe('running')
    expect(Number(job.next_block) - from).toBeLessThan(1_000)
    expect(Number(job.next_block) - from).toBeGreaterThan(0)
    await poor.deleteInterest(poorContract).catch(() => {})
  }, 150_000)
})

describe('a back-fill interrupted by a restart', () => {
  it('resumes, and what was mined while the service was down is queued once, not by live matching too', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const contract = await deployLogger(anvil)
    await backend.synced()
    const before = backend.client(account)
    const { clientId } = await before.signIn()
    expect((await backend.admin('PUT', `/clients/${clientId}/plan`, { plan: 'roomy' })).status).toBe(200)
    await before.putInterest(contract, { ...everyTx, startBlock: 0 })
    expect(await storedStatus(contract)).not.toBe('done')
    await backend.restart(() => mineActivity(anvil, contract, 3, 2))
    const client = backend.client(account)
    await client.signIn()
    await waitUntil(
      async () => (await storedStatus(contract)) === 'done',
      120_000,
      'the back-fill to finish',
      200,
    )
    await backend.synced()
    const items = await backend.everything(client)
    const keys = items.map((i) => `${i.kind}:${i.txHash}:${i.logIndex}`)
    expect(new Set(keys).size).toBe(keys.length)
    // The contract's creation, and one call with a log in each of the 3 blocks mined while down.
    expect(items.filter((i) => i.kind === 'tx')).toHaveLength(4)
    expect(items.filter((i) => i.kind === 'log')).toHaveLength(3)
  }, 150_000)
})

/** A second backend on a node that refuses every eth_getLogs, with a client signed in. */
async function backendRefusingLogs() {
  const faulty = await startFaultyNode(anvil.node.httpUrl)
  faulty.tamper = (message, answer) =>
    message.method === 'eth_getLogs'
      ? { id: answer.id, error: { code: -32000, message: 'history is not available' } }
      : undefined
  const other = await startBackend(anvil, { 'node-url': [faulty.url] })
  await other.synced()
  const client = other.client()
  await client.signIn()
  return { faulty, other, client }
}

describe('a back-fill the node keeps failing', () => {
  it('ends failed after bounded retries, with its error, in GET /v1/interests', async () => {
    const { faulty, other, client } = await backendRefusingLogs()
    try {
      const contract = await deployLogger(anvil)
      await other.synced()
      // Logs only: the scan asks eth_getLogs, which this node refuses every time.
      await client.putInterest(contract, { filters: [{ code: 'logs', args: [null] }], startBlock: 1 })
      await waitUntil(
        async () => (await backfillOf(client, contract))?.status === 'failed',
        60_000,
        'the back-fill to be marked failed',
        250,
      )
      const backfill = await backfillOf(client, contract)
      expect(backfill?.error).toContain('history is not available')
      expect(faulty.calls.get('eth_getLogs')).toBeGreaterThanOrEqual(5)
      // The operator sees it in /health, apart from the work still running.
      const failed = other.service.health().failedBackground ?? []
      expect(failed.find((task) => task.kind === 'backfill')).toMatchObject({
        error: expect.stringContaining('history is not available'),
        detail: expect.objectContaining({ interest: contract.toLowerCase() }),
      })
    } finally {
      await other.stop()
      await faulty.close()
    }
  }, 90_000)

  it('ends an account back-fill failed after bounded retries too, in GET /v1/accounts and /health', async () => {
    const { faulty, other, client } = await backendRefusingLogs()
    try {
      const wallet = privateKeyToAccount(generatePrivateKey()).address
      // Tokens only: found through address-less eth_getLogs, which this node refuses every time.
      await client.putAccount(wallet, { activity: ['tokens'], startBlock: 1 })
      const backfillOfAccount = async () =>
        (await client.listAccounts()).find((a) => a.address === wallet.toLowerCase())?.backfill
      expect((await backfillOfAccount())?.status).toMatch(/pending|running/)
      await waitUntil(
        async () => (await backfillOfAccount())?.status === 'failed',
        60_000,
        'the account back-fill to be marked failed',
        250,
      )
      expect((await backfillOfAccount())?.error).toContain('history is not available')
      expect(faulty.calls.get('eth_getLogs')).toBeGreaterThanOrEqual(5)
      const failed = other.service.health().failedBackground ?? []
      expect(failed.find((task) => task.kind === 'account-backfill')).toMatchObject({
        error: expect.stringContaining('history is not available'),
      })
      // Nothing of it runs any more: no retry is left waiting.
      expect(other.service.health().background).toEqual([])
      // Putting the account again without history replaces the failed back-fill.
      await client.putAccount(wallet, { activity: ['tokens'] })
      expect(await backfillOfAccount()).toBeNull()
    } finally {
      await other.stop()
      await faulty.close()
    }
  }, 90_000)
})
