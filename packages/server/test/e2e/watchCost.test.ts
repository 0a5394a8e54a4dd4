import type { WalletBackendClient, WalletBackendError } from '@wallet-backend/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let backend: TestBackend

beforeAll(async () => {
  anvil = await startAnvil()
  backend = await startBackend(anvil, {
    'state-reads-per-cost-unit': '1',
    plans: JSON.stringify({ metered: { costPerSecond: 1, costBurst: 80 } }),
  })
})
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

async function onPlan(plan: string): Promise<WalletBackendClient> {
  const client = backend.client()
  const { clientId } = await client.signIn()
  expect((await backend.admin('PUT', `/clients/${clientId}/plan`, { plan })).status).toBe(200)
  return client
}

/** Read from the database (written every few seconds): the watching client's own requests may be refused. */
async function stateReads(client: WalletBackendClient): Promise<number> {
  const row = await backend.service
    .storage!.db.selectFrom('client_usage')
    .select('state_reads')
    .where('client_id', '=', Buffer.from(client.clientId!.slice(2), 'hex'))
    .executeTakeFirstOrThrow()
  return Number(row.state_reads)
}

const balance = { filters: [], watches: [{ kind: 'balance' as const, args: [] }] }

describe('contract-state watches in the cost limit', () => {
  it('charge each client its share of the node reads its watches cause, and not a client without watches', async () => {
    const [alone, sharing1, sharing2, none] = [
      await onPlan('metered'),
      await onPlan('metered'),
      await onPlan('metered'),
      await onPlan('metered'),
    ]
    const [own, common] = [`0x${'e1'.repeat(20)}`, `0x${'e2'.repeat(20)}`] as const
    await alone.putInterest(own, balance)
    await sharing1.putInterest(common, balance)
    await sharing2.putInterest(common, balance)
    await none.putInterest(`0x${'e3'.repeat(20)}`, { filters: [{ code: 'all', args: [] }] })
    await backend.synced()
    const before = await stateReads(alone)

    // Each block costs one eth_getProof of each watched contract: 100 blocks, 100 reads of each.
    await anvil.mine(100)
    await backend.synced()
    await waitUntil(
      async () => (await stateReads(alone)) >= before + 100 && (await stateReads(sharing2)) >= 49,
      30_000,
      'the reads to be metered',
      200,
    )
    const [aloneReads, share1, share2] = [
      await stateReads(alone),
      await stateReads(sharing1),
      await stateReads(sharing2),
    ]
    // The two clients watching the same contract pay half of its reads each.
    expect(share1).toBeGreaterThanOrEqual(49)
    expect(share2).toBeGreaterThanOrEqual(49)
    expect(share1 + share2).toBeLessThan(aloneReads + 5)
    expect(await stateReads(none)).toBe(0)

    // 100 units on a burst of 80: the lone watcher is refused, the client without watches is not.
    const refused = await alone.usage().catch((error: WalletBackendError) => error)
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', status: 429 })
    expect((await none.usage()).usage.stateReads).toBe(0)
  })
})
