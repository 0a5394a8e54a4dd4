import type { DeliveryItem, WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyProofOfWork } from '../../src/clients/auth/proofOfWork.js'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'

let anvil: TestAnvil
let backend: TestBackend
let accounts: `0x${string}`[]
/** The policy's clock: real time plus what a test moves it by. */
let offsetMs = 0

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = await anvil.accounts()
  backend = await startBackend(
    anvil,
    {
      'registration-pow-bits': '4',
      'registration-calm-per-minute': '3',
      'prune-interval-ms': '86400000', // passes are run by the tests
      plans: JSON.stringify({
        tiny: { interests: 1, filterCost: 3, walletStateBytes: 1024, backlogItems: 3 },
      }),
    },
    { clock: () => Date.now() + offsetMs },
  )
})
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

const admin = (method: string, path: string, body?: unknown) => backend.admin(method, path, body)

const post = (path: string, body: unknown) =>
  fetch(`${backend.service.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
const challenge = async (address: string) => (await post('/v1/auth/challenge', { address })).json()
type GroundLog = { blockNumber: string; logIndex: string }
const logsOf = (items: DeliveryItem[]) =>
  items.filter((i) => i.kind === 'log').map((i) => `${i.block!.number}:${Number(i.log!.logIndex)}`)

describe('registration proof of work', () => {
  it('is enforced for a new key, and rises under a burst of registrations', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const first = await challenge(account.address)
    expect(first.registration).toEqual({ required: true, difficulty: 4 })
    const signature = await account.signMessage({ message: first.message })
    const without = await post('/v1/auth/session', { message: first.message, signature })
    expect(without.status).toBe(401)
    expect(await without.json()).toMatchObject({ code: 'PROOF_OF_WORK_REQUIRED', details: { difficulty: 4 } })
    const again = await challenge(account.address)
    let bad = 0
    while (verifyProofOfWork(again.nonce, account.address.toLowerCase(), String(bad), 4)) bad++
    const wrong = await post('/v1/auth/session', {
      message: again.message,
      signature: await account.signMessage({ message: again.message }),
      proofOfWork: String(bad),
    })
    expect(wrong.status).toBe(401)
    expect(await wrong.json()).toMatchObject({ code: 'PROOF_OF_WORK_INVALID' })

    // A burst: 12 registrations in the minute against a calm 3 is two doublings, two more bits.
    const burst = Array.from({ length: 12 }, () => backend.client())
    for (const c of burst) await c.signIn()
    const during = await challenge(privateKeyToAccount(generatePrivateKey()).address)
    expect(during.registration.difficulty).toBe(6)
    // A known key is asked for nothing, however busy it is.
    expect((await challenge(burst[0]!.account.address)).registration).toEqual({
      required: false,
      difficulty: 0,
    })
  })
})

describe('plans', () => {
  it('enforce their quotas per client, are assigned through the admin API and change at runtime', async () => {
    const [c, other] = [backend.client(), backend.client()]
    await Promise.all([c.signIn(), other.signIn()])
    expect((await admin('PUT', `/clients/${c.clientId}/plan`, { plan: 'nope' })).status).toBe(404)
    const assigned = await admin('PUT', `/clients/${c.clientId}/plan`, { plan: 'tiny' })
    expect(await assigned.json()).toMatchObject({ plan: 'tiny', limits: { interests: 1, backlogItems: 3 } })
    const [a, b] = [`0x${'a1'.repeat(20)}`, `0x${'b2'.repeat(20)}`] as const
    // all (2) + logs with one topic (2) = 4 > 3
    await expect(
      c.putInterest(a, {
        filters: [
          { code: 'all', args: [] },
          { code: 'logs', args: [TRANSFER_TOPIC] },
        ],
      }),
    ).rejects.toMatchObject({ status: 409, code: 'FILTER_COST_EXCEEDED' })
    await c.putInterest(a, { filters: [{ code: 'all', args: [] }] })
    await expect(c.putInterest(b, { filters: [] })).rejects.toMatchObject({
      status: 409,
      code: 'TOO_MANY_INTERESTS',
    })
    await expect(c.putWalletState('x'.repeat(2048), undefined)).rejects.toMatchObject({
      status: 413,
      code: 'WALLET_STATE_TOO_LARGE',
    })
    await c.putWalletState('x'.repeat(1000), undefined)
    // The other client, on the default plan, may do all of that.
    await other.putInterest(a, { filters: [{ code: 'all', args: [] }] })
    await other.putInterest(b, { filters: [] })
    expect((await c.usage()).limits).toMatchObject({ interests: 1, filterCost: 3, walletStateBytes: 1024 })
    expect((await c.usage()).plan).toBe('tiny')

    // A runtime change applies at once, to every client of the plan.
    const changed = await admin('PUT', '/plans/tiny', { interests: 2 })
    expect(await changed.json()).toMatchObject({ plan: 'tiny', limits: { interests: 2, filterCost: 3 } })
    await c.putInterest(b, { filters: [] })
    expect((await admin('PUT', '/plans/tiny', { bogus: 1 })).status).toBe(400)
    const listed = await (await admin('GET', `/clients?plan=tiny&idPrefix=${c.clientId.slice(0, 12)}`)).json()
    expect(listed.clients.map((x: { id: string }) => x.id)).toEqual([c.clientId])
    await admin('PUT', '/plans/tiny', { interests: 1 })
  })

  it('bound the backlog: a client over it goes dormant until it acknowledges, then gets the gap and back-fills it', async () => {
    const token = await deployTransferEmitter(anvil)
    await backend.synced()
    const c = backend.client()
    await c.signIn()
    await admin('PUT', `/clients/${c.clientId}/plan`, { plan: 'tiny' })
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
    const blocks: number[] = []
    for (let i = 1; i <= 6; i++) {
      await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, BigInt(i))
      blocks.push(await anvil.blockNumber())
      await backend.synced()
    }
    // Items 1–4 are queued (the fourth takes the backlog over 3); blocks 5 and 6 are not matched.
    const queued = await backend.everything(c)
    expect(queued.map((i) => i.block!.number)).toEqual(blocks.slice(0, 4))
    const detail = await (await admin('GET', `/clients/${c.clientId}`)).json()
    expect(detail).toMatchObject({ stage: 'dormant', backlog: { items: 4 } })
    await c.ack(queued.at(-1)!.cursor)
    // The next request finds the backlog empty: the client is back, with a gap naming what it missed.
    const [gap] = await backend.everything(c, queued.at(-1)!.cursor)
    const head = backend.service.follower!.snapshot().head!.number
    expect(gap).toMatchObject({ kind: 'gap', data: { fromBlock: blocks[3]! + 1, toBlock: head } })
    const after = gap!.cursor
    await c.putInterest(token, {
      filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }],
      startBlock: (gap!.data as { fromBlock: number }).fromBlock,
    })
    await waitFor(async () => (await backend.everything(c, after)).length >= 2)
    const truth = await anvil.rpc<GroundLog[]>('eth_getLogs', [
      { address: token, fromBlock: `0x${(blocks[3]! + 1).toString(16)}`, toBlock: `0x${head.toString(16)}` },
    ])
    expect(logsOf(await backend.everything(c, after))).toEqual(
      truth.map((l) => `${Number(l.blockNumber)}:${Number(l.logIndex)}`),
    )
    expect(truth).toHaveLength(2)
  })
})

describe('the abandoned-client policy on the service clock', () => {
  it('makes an absent client dormant; on its return it gets the gap and can back-fill it', async () => {
    const token = await deployTransferEmitter(anvil)
    await backend.synced()
    const c: WalletBackendClient = backend.client()
    await c.signIn()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 1n)
    await backend.synced()
    offsetMs = 31 * 86_400_000 // a month passes without a word from anyone
    const run = await backend.service.pruner!.run()
    expect(run.dormant).toBeGreaterThanOrEqual(1)
    const from = backend.service.follower!.snapshot().head!.number + 1
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 2n)
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 3n)
    await backend.synced()
    const to = backend.service.follower!.snapshot().head!.number
    const health = await (await fetch(`${backend.service.url}/health`)).json()
    expect(health.pruner).toMatchObject({ running: false, lastRun: { dormant: run.dormant } })
    const metrics = await (await fetch(`${backend.service.url}/metrics`)).text()
    expect(metrics).toMatch(
      /wallet_backend_client_stage_transitions_total\{to="dormant",reason="absent"[^}]*\} [1-9]/,
    )

    await c.signIn() // back
    const items = await backend.everything(c)
    expect(items.map((i) => i.kind)).toEqual(['log', 'gap'])
    expect(items[1]!.data).toEqual({ fromBlock: from, toBlock: to })
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }], startBlock: from })
    await waitFor(async () => (await backend.everything(c, items[1]!.cursor)).length >= 2)
    const truth = await anvil.rpc<GroundLog[]>('eth_getLogs', [
      { address: token, fromBlock: `0x${from.toString(16)}`, toBlock: `0x${to.toString(16)}` },
    ])
    expect(truth).toHaveLength(2)
    expect(logsOf(await backend.everything(c, items[1]!.cursor))).toEqual(
      truth.map((l) => `${Number(l.blockNumber)}:${Number(l.logIndex)}`),
    )
    offsetMs = 0
  })
})

async function waitFor(condition: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
