import type { WalletBackendError } from '@wallet-backend/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployLogger, mineActivity } from '../support/chainActivity.js'

let anvil: TestAnvil
let backend: TestBackend

beforeAll(async () => {
  anvil = await startAnvil()
  backend = await startBackend(anvil, {
    'filter-work-per-cost-unit': '1',
    plans: JSON.stringify({ metered: { costPerSecond: 1, costBurst: 80 } }),
  })
})
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

const admin = (method: string, path: string, body?: unknown) => backend.admin(method, path, body)

describe('filter work in the cost limit', () => {
  it('slows down a client whose filters keep matching a busy contract, and not its neighbour on the same plan', async () => {
    const busy = await deployLogger(anvil)
    const quiet = `0x${'5a'.repeat(20)}` as const
    await backend.synced()
    const [heavy, light] = [backend.client(), backend.client()]
    for (const client of [heavy, light]) {
      const { clientId } = await client.signIn()
      expect((await admin('PUT', `/clients/${clientId}/plan`, { plan: 'metered' })).status).toBe(200)
    }
    await heavy.putInterest(busy, { filters: [{ code: 'all', args: [] }] })
    await light.putInterest(quiet, { filters: [{ code: 'all', args: [] }] })

    // 3 blocks of 40 transactions, 60 of them calls to the busy contract with a log each.
    await mineActivity(anvil, busy, 3, 40)
    await backend.synced()
    const { clients } = (await (await admin('GET', '/clients?plan=metered')).json()) as {
      clients: { id: string; usage: { filterWork: number } }[]
    }
    const work = Object.fromEntries(clients.map((c) => [c.id, c.usage.filterWork]))
    const [heavyId, lightId] = [heavy, light].map((c) => c.clientId!.toLowerCase())
    // Every transaction and log of the busy contract was tested against the heavy client's filter.
    expect(work[heavyId!]).toBeGreaterThanOrEqual(120)
    expect(work[lightId!]).toBe(0)

    const refused = await heavy.deliveries({ after: 0, limit: 1 }).catch((error: WalletBackendError) => error)
    expect(refused).toMatchObject({ code: 'RATE_LIMITED', status: 429 })
    expect((await light.deliveries({ after: 0, limit: 1 })).items).toEqual([])
  })
})
