import { connect } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import type { Service } from '../../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let service: Service
let backend: TestBackend
let token: string
let wsUrl: string

async function post(path: string, body: unknown, session?: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${service.url}${path}`, {
    method: path.startsWith('/v1/interests') ? 'PUT' : 'POST',
    headers: {
      'content-type': 'application/json',
      ...(session ? { authorization: `Bearer ${session}` } : {}),
    },
    body: JSON.stringify(body),
  })
  return (await response.json()) as Record<string, unknown>
}

async function signIn(): Promise<string> {
  const account = privateKeyToAccount(generatePrivateKey())
  const challenge = await post('/v1/auth/challenge', { address: account.address })
  const message = String(challenge.message)
  const signature = await account.signMessage({ message })
  return String((await post('/v1/auth/session', { message, signature })).token)
}

type Opened = { status: number; socket?: WebSocket }

/** A WebSocket handshake: 101 with the open socket, or the HTTP status the server answered instead. */
function open(url: string, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url, { headers })
    socket.once('open', () => resolve({ status: 101, socket }))
    socket.once('unexpected-response', (request, response) => {
      resolve({ status: response.statusCode ?? 0 })
      request.destroy()
    })
    socket.once('error', () => resolve({ status: 0 }))
  })
}

/** A hand-written upgrade request, for handshakes no WebSocket library would send; the status answered. */
function rawHandshake(request: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(service.url).port), '127.0.0.1')
    let answer = ''
    const done = () => {
      socket.destroy()
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1]
      resolve(status ? Number(status) : undefined)
    }
    socket.setTimeout(2_000, done)
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1')
      if (answer.includes('\r\n')) done()
    })
    socket.on('error', done)
    socket.on('close', done)
    socket.write(request)
  })
}

/** A real garbage collection, so that heap figures say what is retained rather than what is not yet collected. */
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

async function streamsOpen(): Promise<number> {
  const metrics = await (await fetch(`${service.url}/metrics`)).text()
  return Number(/^wallet_backend_streams(?:\{[^}]*\})? (\d+)$/m.exec(metrics)?.[1] ?? Number.NaN)
}

beforeAll(async () => {
  anvil = await startAnvil()
  backend = await startBackend(anvil, {
    'registration-pow-bits': '0',
    // Hundreds of connections from one address are the point here, not what the cost limits are for.
    'client-cost-per-second': '100000',
    'client-cost-burst': '1000000',
    'subnet-cost-per-second': '100000',
    'subnet-cost-burst': '1000000',
  })
  service = backend.service
  wsUrl = `${service.url.replace(/^http/, 'ws')}/v1/stream`
  token = await signIn()
  const emitter = await deployTransferEmitter(anvil)
  await post(`/v1/interests/${emitter}`, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] }, token)
  const [from, to] = await anvil.accounts()
  for (let i = 0; i < 5; i++) await sendTransfer(anvil, emitter, from!, to!, BigInt(i + 1))
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

/** A frame to send: text, binary, text whose bytes are not UTF-8, or a ping. */
type Hostile = { kind: 'text' | 'binary' | 'invalid-utf8' | 'ping'; data: string | Buffer }

const hostileCursor = fc.oneof(
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    '',
    '9'.repeat(400),
    '1e400',
    '0x10',
    '-0',
    '1&after=2',
    '00000000000000000001',
    '%00',
    '%ff',
  ),
)

describe('the WebSocket stream under hostile input (fuzz)', () => {
  it('answers frames that are JSON but not an object (null, a number, a string) with INVALID_MESSAGE', async () => {
    const { socket } = await open(`${wsUrl}?after=${10 ** 6}&token=${token}`)
    const ws = socket!
    const errors: string[] = []
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      if (frame.type === 'error') errors.push(frame.code)
    })
    for (const frame of ['null', '7', '"ack"', '[]']) ws.send(frame)
    await waitUntil(() => errors.length === 4, 2_000, 'an answer to every frame')
    expect(errors).toEqual(['INVALID_MESSAGE', 'INVALID_MESSAGE', 'INVALID_MESSAGE', 'INVALID_MESSAGE'])
    expect(ws.readyState).toBe(WebSocket.OPEN)
    ws.close()
  })

  it('refuses a cursor or limit that reads as Infinity (which the query coercion would let past its maximum)', async () => {
    for (const query of ['after=1e400', 'after=Infinity', 'limit=Infinity', 'after=-1e400']) {
      const page = await fetch(`${service.url}/v1/deliveries?${query}`, {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(page.status, query).toBe(400)
      expect(await page.json()).toMatchObject({ code: 'INVALID_REQUEST' })
    }
    expect((await open(`${wsUrl}?after=1e400&token=${token}`)).status).toBe(400)
  })

  it('answers hostile handshakes (cursors, tokens, parameters, headers) with 101 or a 4xx, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.option(hostileCursor, { nil: undefined }),
        fc.oneof(
          fc.constant<string | undefined>(undefined),
          fc.constant('valid'),
          fc.string({ maxLength: 250 }),
          fc.constant('x'.repeat(5000)),
        ),
        fc.option(fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ maxLength: 40 })), {
          nil: undefined,
        }),
        fc.constantFrom<Record<string, string>>(
          {},
          { authorization: 'Bearer nope' },
          { authorization: 'x'.repeat(3000) },
          { origin: 'https://evil.example' },
          { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits=1' },
        ),
        async (after, tokenCase, extra, headers) => {
          const query = new URLSearchParams()
          if (after !== undefined) query.append('after', after)
          if (tokenCase !== undefined) query.append('token', tokenCase === 'valid' ? token : tokenCase)
          if (extra) query.append(extra[0], extra[1])
          const { status, socket } = await open(`${wsUrl}?${query}`, headers)
          socket?.terminate()
          expect(status, `${query} ${JSON.stringify(headers)}`).not.toBe(0)
          expect(status).toBeLessThan(500)
          if (status === 101) {
            // Accepted only with the valid token and a cursor that reads as a whole number ≥ 0
            // (the query schema coerces, so " " and "-0" are 0).
            expect(tokenCase).toBe('valid')
            expect(after === undefined || (Number.isSafeInteger(Number(after)) && Number(after) >= 0)).toBe(
              true,
            )
          }
        },
      ),
      { numRuns: 150 },
    )
  })

  it('answers malformed upgrade requests with a 4xx (or nothing), never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'CONNECT', 'G\u0000T'),
        fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0'),
        fc.subarray(
          [
            'Upgrade: websocket',
            'Upgrade: h2c',
            'Connection: Upgrade',
            'Connection: close',
            'Sec-WebSocket-Version: 13',
            'Sec-WebSocket-Version: 7',
            'Sec-WebSocket-Version: 99999999999999999999',
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
            'Sec-WebSocket-Key: short',
            `Sec-WebSocket-Key: ${'A'.repeat(5000)}`,
            'Content-Length: 10',
            'Transfer-Encoding: chunked',
          ],
          { minLength: 0 },
        ),
        fc.boolean(),
        async (method, version, headers, withToken) => {
          const path = `/v1/stream?after=0${withToken ? `&token=${token}` : ''}`
          const request = `${method} ${path} ${version}\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`
          const status = await rawHandshake(request)
          if (status !== undefined) expect(status, request.slice(0, 300)).toBeLessThan(500)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('survives hostile frames on an open stream: errors are named, acknowledged items never come back', async () => {
    const message = fc.oneof(
      fc.string({ maxLength: 200 }).map((text): Hostile => ({ kind: 'text', data: text })),
      fc.json({ maxDepth: 3 }).map((text): Hostile => ({ kind: 'text', data: text })),
      fc
        .oneof(
          fc.integer({ min: -5, max: 20 }),
          fc.constantFrom<unknown>(-1, 1.5, 2 ** 53, 1e308, '3', null, [], {}, true, Number.MAX_SAFE_INTEGER),
        )
        .map((cursor): Hostile => ({ kind: 'text', data: JSON.stringify({ type: 'ack', cursor }) })),
      fc.constantFrom<Hostile>(
        { kind: 'text', data: JSON.stringify({ type: 'ack', cursor: 1, extra: 'x'.repeat(1000) }) },
        { kind: 'text', data: '{"type":"ack","cursor":1,"__proto__":{"polluted":true}}' },
        { kind: 'text', data: 'null' },
        { kind: 'text', data: 'x'.repeat(70 * 1024) }, // above the 64 kB frame limit
        { kind: 'binary', data: Buffer.from([0xff, 0xfe, 0x00, 0x01]) },
        { kind: 'binary', data: Buffer.from('{"type":"ack","cursor":1}') },
        { kind: 'invalid-utf8', data: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) },
        { kind: 'ping', data: Buffer.from('p'.repeat(125)) },
      ),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 6 }), async (messages) => {
        const { status, socket } = await open(`${wsUrl}?after=0&token=${token}`)
        expect(status).toBe(101)
        const ws = socket!
        const frames: { type: string; cursor?: number; code?: string; item?: { cursor: number } }[] = []
        let acked = 0
        const violations: string[] = []
        ws.on('message', (data) => {
          const frame = JSON.parse(data.toString())
          frames.push(frame)
          if (frame.type === 'acked') acked = Math.max(acked, frame.cursor)
          if (frame.type === 'item' && frame.item.cursor <= acked)
            violations.push(`item ${frame.item.cursor} after ack ${acked}`)
        })
        const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
        ws.on('error', () => {})
        for (const m of messages) {
          if (ws.readyState !== WebSocket.OPEN) break
          if (m.kind === 'ping') ws.ping(m.data)
          else ws.send(m.data, { binary: m.kind === 'binary' })
        }
        // Let the server answer, then leave.
        await new Promise((resolve) => setTimeout(resolve, 30))
        ws.close()
        const code = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 2_000))])
        if (code === -1) ws.terminate()
        expect(code, 'a server error closes with 1011').not.toBe(1011)
        expect(violations).toEqual([])
        for (const frame of frames.filter((f) => f.type === 'error')) {
          expect(['INVALID_JSON', 'INVALID_MESSAGE', 'CURSOR_OUT_OF_RANGE']).toContain(frame.code)
        }
        expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
      }),
      { numRuns: 120 },
    )
    const health = await fetch(`${service.url}/health`)
    expect(health.status).toBe(200)
    expect(service.lifecycle.state).toBe('live')
  })

  it('keeps memory and stream bookkeeping bounded over hundreds of dropped hostile connections', async () => {
    const gc = collectGarbage()
    const churn = async (rounds: number) => {
      for (let i = 0; i < rounds; i++) {
        const { socket } = await open(`${wsUrl}?after=${i % 7}&token=${token}`)
        socket?.on('error', () => {})
        socket?.send(i % 2 ? 'not json' : JSON.stringify({ type: 'ack', cursor: 10 ** 9 }))
        if (i % 3 === 0) socket?.terminate()
        else
          socket?.close()
          // Refused (a negative cursor), except -0, which is 0.
        ;(await open(`${wsUrl}?after=-${i}&token=${token}`)).socket?.terminate()
      }
    }
    await churn(50)
    await waitUntil(async () => (await streamsOpen()) === 0, 5_000, 'every stream to be closed')
    gc()
    const before = process.memoryUsage()
    await churn(300)
    await waitUntil(async () => (await streamsOpen()) === 0, 5_000, 'every stream to be closed')
    gc()
    const after = process.memoryUsage()
    const growthMiB = (after.heapUsed - before.heapUsed) / 2 ** 20
    // Generous: a leak of a socket, session or listener per connection would be far above it.
    expect(
      growthMiB,
      `heap ${growthMiB.toFixed(1)} MiB, rss ${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MiB`,
    ).toBeLessThan(32)
    // The per-client limit still counts right: a stream opens after all that churn.
    const { status, socket } = await open(`${wsUrl}?token=${token}`)
    socket?.terminate()
    expect(status).toBe(101)
  })
})
