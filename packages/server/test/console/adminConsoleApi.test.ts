import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let backend: TestBackend
let token: Hex
let accounts: Hex[]

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = (await anvil.accounts()) as Hex[]
  token = await deployTransferEmitter(anvil)
  // Enough failed admin sign-ins for every refused request below, before the throttle would
  // refuse the subnet everything (its own test is elsewhere).
  backend = await startBackend(anvil, { 'admin-auth-failures-per-minute': '10000' })
}, 180_000)
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

/** Every admin operation of the OpenAPI document, with its path parameters filled in. */
async function adminOperations(clientId: string): Promise<{ method: string; path: string }[]> {
  const document = (await (await fetch(`${backend.service.url}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>
  }
  return Object.entries(document.paths)
    .filter(([path]) => path.startsWith('/admin/'))
    .flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => ({
        method: method.toUpperCase(),
        path: path.replace('{id}', clientId).replace('{name}', 'default'),
      })),
    )
}

describe('the admin API behind the console', () => {
  it('answers nothing of its data without the admin token, on every admin endpoint', async () => {
    const client = backend.client()
    await client.signIn()
    const operations = await adminOperations(client.clientId)
    // The console's own endpoints are among them, documented.
    expect(operations.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining([
        'GET /admin/overview',
        'GET /admin/metrics/series',
        `GET /admin/clients/${client.clientId}/details`,
        'GET /admin/clients',
      ]),
    )
    const url = backend.service.url
    const wrong: [string, Record<string, string>, string][] = [
      ['no header', {}, ''],
      ['a wrong token', { authorization: 'Bearer not-the-token' }, ''],
      ['another scheme', { authorization: `Basic ${btoa(`admin:${readToken()}`)}` }, ''],
      ['the token without its scheme', { authorization: readToken() }, ''],
      ['the token in the query', {}, `?token=${readToken()}`],
    ]
    for (const { method, path } of operations) {
      for (const [what, headers, query] of wrong) {
        const body = ['PUT', 'POST'].includes(method)
          ? JSON.stringify({ plan: 'default', level: 'info' })
          : undefined
        const response = await fetch(`${url}${path}${query}`, {
          method,
          headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body } : {}),
        })
        const text = await response.text()
        expect(response.status, `${method} ${path} with ${what}`).toBe(401)
        expect(JSON.parse(text).code).toBe('ADMIN_UNAUTHORIZED')
        expect(text.toLowerCase()).not.toContain(client.clientId.slice(2).toLowerCase())
      }
    }
    // Nothing was changed by the refused writes.
    const after = await backend.admin('GET', `/clients/${client.clientId}`)
    expect(((await after.json()) as { stage: string }).stage).toBe('active')
  })

  it('serves the console page without the token (it holds no data), offline and locked down', async () => {
    const response = await fetch(`${backend.service.url}/console`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/html')
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
    const html = await response.text()
    // Nothing loaded from elsewhere.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//)
    for (const file of ['console.js', 'console.css']) {
      const asset = await fetch(`${backend.service.url}/console/${file}`)
      expect(asset.status).toBe(200)
      expect(await asset.text()).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
    }
  })

  it('shows the overview, a time series of the metrics, a page of clients, and what one client follows', async () => {
    const client = backend.client()
    await client.signIn()
    await client.putInterest(token, {
      filters: [{ code: 'all', args: [] }],
      watches: [{ kind: 'balance', args: [] }],
    })
    await client.putAccount(accounts[2]!)
    await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, 5n)
    await backend.synced()
    const items: number[] = []
    const stream = client.stream({ onItem: (item) => void items.push(item.cursor) })
    await waitUntil(() => items.length >= 2, 30_000, 'streamed items')

    const overview = (await (await backend.admin('GET', '/overview')).json()) as {
      health: { state: string; head: { number: number } }
      clients: { active: number; total: number }
    }
    expect(overview.health.state).toBe('live')
    expect(overview.health.head.number).toBe(await anvil.blockNumber())
    expect(overview.clients.active).toBe(overview.clients.total)
    expect(overview.clients.total).toBeGreaterThanOrEqual(1)

    // The sampler saw the blocks and the deliveries: rates above zero at some point, and a latency.
    type Sample = {
      blocksPerSecond: number
      itemsDeliveredPerSecond: number
      deliveryLatencyP50Ms: number | null
    }
    let samples: Sample[] = []
    await waitUntil(
      async () => {
        samples = (
          (await (await backend.admin('GET', '/metrics/series?seconds=120')).json()) as { samples: Sample[] }
        ).samples
        return (
          samples.some((s) => s.itemsDeliveredPerSecond > 0) && samples.some((s) => s.blocksPerSecond > 0)
        )
      },
      30_000,
      'samples with blocks and deliveries',
    )
    expect(samples.some((s) => s.deliveryLatencyP50Ms !== null && s.deliveryLatencyP50Ms >= 0)).toBe(true)
    expect((await backend.admin('GET', '/metrics/series?seconds=0')).status).toBe(400)

    const details = (await (await backend.admin('GET', `/clients/${client.clientId}/details`)).json()) as {
      interests: {
        address: string
        deployed: boolean
        filters: { code: string }[]
        watches: { kind: string }[]
      }[]
      accounts: { address: string }[]
      backlog: { ackedCursor: number; nextCursor: number; byKind: Record<string, number> }
    }
    expect(details.interests).toEqual([
      expect.objectContaining({
        address: token.toLowerCase(),
        deployed: true,
        filters: [expect.objectContaining({ code: 'all' })],
        watches: [expect.objectContaining({ kind: 'balance' })],
      }),
    ])
    expect(details.accounts.map((a) => a.address)).toEqual([accounts[2]!.toLowerCase()])
    // Nothing acknowledged yet: the backlog holds what was streamed.
    expect(details.backlog.ackedCursor).toBe(0)
    expect(Object.values(details.backlog.byKind).reduce((a, b) => a + b, 0)).toBe(
      details.backlog.nextCursor - 1,
    )
    stream.close()

    const unknown = await backend.admin('GET', `/clients/0x${'00'.repeat(20)}/details`)
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { code: string }).code).toBe('CLIENT_NOT_FOUND')

    // Paging: two pages of one, different clients, in the order of the whole list.
    const all = (
      (await (await backend.admin('GET', '/clients?limit=10')).json()) as { clients: { id: string }[] }
    ).clients
    expect(all.length).toBeGreaterThanOrEqual(2)
    const second = (
      (await (await backend.admin('GET', '/clients?limit=1&offset=1')).json()) as {
        clients: { id: string }[]
      }
    ).clients
    expect(second.map((c) => c.id)).toEqual([all[1]!.id])
  })
})

function readToken(): string {
  return readFileSync(join(backend.dataDir, 'admin-token'), 'utf8').trim()
}
