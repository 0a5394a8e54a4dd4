import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Hex, hexToBytes } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { adminRequest } from '../support/adminRequest.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'

let anvil: TestAnvil
let service: Service
let dataDir: string

async function signIn(): Promise<{ token: string; clientId: Hex }> {
  const account = privateKeyToAccount(generatePrivateKey())
  const post = (path: string, body: unknown) =>
    fetch(`${service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const challenge = await (await post('/v1/auth/challenge', { address: account.address })).json()
  const signature = await account.signMessage({ message: challenge.message })
  return (await post('/v1/auth/session', { message: challenge.message, signature })).json()
}
const session = async (): Promise<string> => (await signIn()).token

/** Queues `count` items of about `bytes` each for a client, straight into its queue. */
async function queue(clientId: Hex, count: number, bytes: number): Promise<void> {
  const db = service.storage!.db
  const id = hexToBytes(clientId)
  await db.transaction().execute(async (trx) => {
    const { next_cursor } = await trx
      .updateTable('clients')
      .set((eb) => ({
        next_cursor: eb('next_cursor', '+', count),
        backlog_items: eb('backlog_items', '+', count),
      }))
      .where('id', '=', id)
      .returning('next_cursor')
      .executeTakeFirstOrThrow()
    const first = next_cursor - count
    for (let i = 0; i < count; i += 200) {
      await trx
        .insertInto('client_deliveries')
        .values(
          Array.from({ length: Math.min(200, count - i) }, (_, j) => {
            const payload = JSON.stringify({ fromBlock: i + j, toBlock: i + j, pad: 'x'.repeat(bytes) })
            return {
              client_id: id,
              cursor: first + i + j,
              kind: 'gap' as const,
              payload,
              bytes: payload.length,
            }
          }),
        )
        .execute()
    }
  })
}

const admin = (method: string, path: string, body?: unknown) =>
  adminRequest(service.url, dataDir, method, path, body)

type Stream = { socket: WebSocket; items: number[]; closed: Promise<{ code: number; reason: string }> }
function stream(token: string, after = 0): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(
      `${service.url.replace('http', 'ws')}/v1/stream?token=${token}&after=${after}`,
    )
    const items: number[] = []
    const closed = new Promise<{ code: number; reason: string }>((done) =>
      socket.once('close', (code, reason) => done({ code, reason: reason.toString() })),
    )
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString())
      if (message.type === 'item') items.push(message.item.cursor)
    })
    socket.once('open', () => resolve({ socket, items, closed }))
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`status ${response.statusCode}`)),
    )
    socket.on('error', () => {})
  })
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

beforeAll(async () => {
  anvil = await startAnvil()
  dataDir = mkdtempSync(join(tmpdir(), 'wb-abuse-'))
  const config = loadConfig({
    flags: {
      port: '0',
      'data-dir': dataDir,
      'node-url': [anvil.node.httpUrl],
      'registration-pow-bits': '0',
      'client-cost-per-second': '20',
      'client-cost-burst': '60',
      'subnet-cost-burst': '100000',
      'subnet-cost-per-second': '100000',
      'body-limit-bytes': '4096',
      'ws-max-message-bytes': '1024',
      'stream-backlog-bytes': '65536',
      plans: JSON.stringify({ bulk: { costPerSecond: 1_000_000, costBurst: 100_000_000 } }),
    },
  })
  service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
  await service.lifecycle.waitFor('live')
})
afterAll(async () => {
  await service.stop()
  await anvil.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('stream limits', () => {
  it('refuses a client a stream beyond its limit with 429, and allows one again after a close', async () => {
    const token = await session()
    const wsUrl = service.url.replace('http', 'ws')
    const open = () =>
      new Promise<{ socket: WebSocket | undefined; status: number }>((resolve) => {
        const socket = new WebSocket(`${wsUrl}/v1/stream?token=${token}`)
        socket.once('open', () => resolve({ socket, status: 101 }))
        socket.once('unexpected-response', (_request, response) =>
          resolve({ socket: undefined, status: response.statusCode ?? 0 }),
        )
        socket.once('error', () => {})
      })
    const held = []
    for (let i = 0; i < 4; i++) held.push(await open())
    expect(held.map((h) => h.status)).toEqual([101, 101, 101, 101])
    expect((await open()).status).toBe(429)
    held[0]!.socket!.close()
    await new Promise((resolve) => setTimeout(resolve, 200))
    const again = await open()
    expect(again.status).toBe(101)
    for (const h of [...held.slice(1), again]) h.socket?.close()
  })
})

describe('a flooding client', () => {
  it('gets 429 with Retry-After while a well-behaved client keeps being served', async () => {
    const [flooder, calm] = [await session(), await session()]
    const get = (token: string) =>
      fetch(`${service.url}/v1/interests`, { headers: { authorization: `Bearer ${token}` } })
    const statuses: number[] = []
    let retryAfter: string | null = null
    const flood = (async () => {
      // Bounded: 500 requests, 100 in flight, on loopback. (A flooder that waits for its answers is
      // only slowed down: above half the burst every request is delayed.)
      for (let round = 0; round < 5; round++) {
        const answers = await Promise.all(Array.from({ length: 100 }, () => get(flooder)))
        for (const answer of answers) {
          statuses.push(answer.status)
          if (answer.status === 429) {
            retryAfter = answer.headers.get('retry-after')
            expect(await answer.json()).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'client' } })
          } else await answer.arrayBuffer()
        }
      }
    })()
    const calmStatuses: number[] = []
    for (let i = 0; i < 15; i++) {
      const answer = await get(calm)
      calmStatuses.push(answer.status)
      await answer.arrayBuffer()
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await flood
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(100)
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
    expect(calmStatuses.every((status) => status === 200)).toBe(true)
    const metrics = await (await fetch(`${service.url}/metrics`)).text()
    expect(metrics).toMatch(/wallet_backend_throttled_total\{scope="client"[^}]*\} [1-9]/)
  })
})

describe('size bounds', () => {
  it('refuses an oversized body with 413 and an oversized WebSocket message by closing with 1009', async () => {
    const token = await session()
    const big = await fetch(`${service.url}/v1/interests/0x${'12'.repeat(20)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filters: [], abi: ['x'.repeat(8000)] }),
    })
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })
    const s = await stream(token)
    s.socket.send(JSON.stringify({ type: 'ack', cursor: 0, pad: 'x'.repeat(2000) }))
    expect((await s.closed).code).toBe(1009)
    // The same client is served on as before.
    const fine = await fetch(`${service.url}/v1/interests`, { headers: { authorization: `Bearer ${token}` } })
    expect(fine.status).toBe(200)
  })
})

describe('a slow WebSocket consumer', () => {
  it('is disconnected once it falls behind, without the server buffering its backlog, and others are served meanwhile', async () => {
    const slow = await signIn()
    const quick = await signIn()
    // No cost limit gets in the way: what is tested is the send backlog.
    expect((await admin('PUT', `/clients/${slow.clientId}/plan`, { plan: 'bulk' })).status).toBe(200)
    const queuedBytes = 2_500 * 8_000
    await queue(slow.clientId, 2_500, 8_000)
    const slowStream = await stream(slow.token)
    slowStream.socket.pause() // reads nothing more: TCP pushes back, the server's buffer fills
    await queue(quick.clientId, 50, 100)
    const quickStream = await stream(quick.token)
    await until(() => quickStream.items.length === 50, 'the other client’s items')
    expect(quickStream.items).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    const disconnected = async () =>
      /wallet_backend_stream_slow_consumers_total\{[^}]*\} (\d+)/.exec(
        await (await fetch(`${service.url}/metrics`)).text(),
      )?.[1] === '1'
    await until(disconnected, 'the slow consumer to be disconnected')
    // What the server handed to the socket: at most its bound and the kernel's buffers, not the backlog.
    const detail = await (await admin('GET', `/clients/${slow.clientId}`)).json()
    expect(detail.usage.bytesDelivered).toBeGreaterThan(0)
    expect(detail.usage.bytesDelivered).toBeLessThan(queuedBytes / 2)
    slowStream.socket.resume()
    expect((await slowStream.closed).code).not.toBe(1000)
    // Its cursor kept its place: a new stream resumes after the last item it received.
    const last = slowStream.items.at(-1) ?? 0
    const resumed = await stream(slow.token, last)
    await until(() => resumed.items.length > 0, 'the resumed stream')
    expect(resumed.items[0]).toBe(last + 1)
    resumed.socket.close()
    quickStream.socket.close()
  })
})

describe('a stream over its client’s cost limit', () => {
  it('is closed with a reason, and resumes from its cursor', async () => {
    const c = await signIn()
    // 300 items of 8 kB: about 150 cost units delivered, against a burst of 60.
    await queue(c.clientId, 300, 8_000)
    const s = await stream(c.token)
    const closed = await s.closed
    expect(closed.code).toBe(4029)
    expect(closed.reason).toMatch(/rate limited: reconnect with \?after=<last cursor> in \d+ s/)
    const last = s.items.at(-1)!
    expect(last).toBeGreaterThan(0)
    expect(last).toBeLessThan(300)
    const wait = Number(/in (\d+) s/.exec(closed.reason)![1])
    await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 100))
    const resumed = await stream(c.token, last)
    await until(() => resumed.items.length > 0, 'the resumed stream')
    expect(resumed.items[0]).toBe(last + 1)
    resumed.socket.close()
  })
})
