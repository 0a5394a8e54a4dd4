import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'

let anvil: TestAnvil
let service: Service
let dataDir: string

async function session(): Promise<string> {
  const account = privateKeyToAccount(generatePrivateKey())
  const post = (path: string, body: unknown) =>
    fetch(`${service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const challenge = await (await post('/v1/auth/challenge', { address: account.address })).json()
  const signature = await account.signMessage({ message: challenge.message })
  return (await (await post('/v1/auth/session', { message: challenge.message, signature })).json()).token
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
