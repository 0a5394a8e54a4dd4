import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { adminRequest } from '../support/adminRequest.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { signIn } from '../support/signIn.js'
import { waitUntil } from '../support/waitUntil.js'

/** A live backend with its log lines kept (at debug level) for the tests to read. */
type Backend = { service: Service; dataDir: string; logs: string[]; stop(): Promise<void> }

let anvil: TestAnvil
let backend: Backend

async function start(flags: Record<string, string>): Promise<Backend> {
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-hostile-'))
  const logs: string[] = []
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean))
      done()
    },
  })
  const config = loadConfig({
    flags: {
      port: '0',
      'data-dir': dataDir,
      'node-url': [anvil.node.httpUrl],
      'registration-pow-bits': '0',
      'subnet-cost-burst': '100000',
      'subnet-cost-per-second': '100000',
      plans: JSON.stringify({
        bulk: { costPerSecond: 1_000_000, costBurst: 100_000_000 },
        slow: { costPerSecond: 1, costBurst: 20 },
        reader: { costPerSecond: 1, costBurst: 100 },
      }),
      ...flags,
    },
  })
  const service = await Service.start({ config, logging: createLogger({ level: 'debug', destination }) })
  await service.lifecycle.waitFor('live')
  return {
    service,
    dataDir,
    logs,
    stop: async () => {
      await service.stop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

const get = (path: string, token: string, init: RequestInit = {}) =>
  fetch(`${backend.service.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...init.headers },
  })

const setPlan = async (clientId: string, plan: string) => {
  const answer = await adminRequest(
    backend.service.url,
    backend.dataDir,
    'PUT',
    `/clients/${clientId}/plan`,
    {
      plan,
    },
  )
  expect(answer.status).toBe(200)
}

/** Opens a WebSocket at `path` (with `?token=`); resolves its upgrade's status. */
function openStream(path: string): Promise<{ socket: WebSocket | undefined; status: number }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${backend.service.url.replace('http', 'ws')}${path}`)
    socket.once('open', () => resolve({ socket, status: 101 }))
    socket.once('unexpected-response', (_request, response) =>
      resolve({ socket: undefined, status: response.statusCode ?? 0 }),
    )
    socket.once('error', () => {})
  })
}

/** A counter's value, from the line of `name` whose labels include `label`. */
async function metric(name: string, label = ''): Promise<number> {
  const text = await (await fetch(`${backend.service.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label))
  return line ? Number(line.split(' ').at(-1)) : 0
}

beforeAll(async () => {
  anvil = await startAnvil()
  backend = await start({ 'max-sessions-per-client': '3' })
})
afterAll(async () => {
  await backend.stop()
  await anvil.stop()
})

describe('percent-encoded paths', () => {
  it('hold a client to its stream limit on /v1/%73tream as on /v1/stream', async () => {
    const { token } = await signIn(backend.service.url)
    const held = []
    for (let i = 0; i < 4; i++) held.push(await openStream(`/v1/%73tream?token=${token}`))
    expect(held.map((h) => h.status)).toEqual([101, 101, 101, 101])
    expect((await openStream(`/v1/%73tream?token=${token}`)).status).toBe(429)
    expect((await openStream(`/v1/stream?token=${token}`)).status).toBe(429)
    for (const h of held) h.socket?.close()
  })

  it('charge /v1/%70roofs/… what a proof costs, not what a read costs', async () => {
    const { token, clientId } = await signIn(backend.service.url)
    // Burst 20, one unit forgiven per second: proofs (5 each) are refused by the fifth request or
    // so, reads (1 each) only after 20.
    await setPlan(clientId, 'slow')
    const statuses: number[] = []
    for (let i = 0; i < 12 && !statuses.includes(429); i++) {
      const answer = await get(`/v1/%70roofs/transaction?block=0&index=0`, token)
      await answer.arrayBuffer()
      statuses.push(answer.status)
    }
    expect(statuses).toContain(429)
    expect(statuses[0]).not.toBe(429)
  })
})

describe('stream messages', () => {
  it('acks are coalesced: one transaction in flight per stream, later acks merged into it', async () => {
    const { token, clientId } = await signIn(backend.service.url)
    await setPlan(clientId, 'bulk')
    const received = await metric('wallet_backend_stream_acks_total')
    const transactions = await metric('wallet_backend_stream_ack_transactions_total')
    const { socket } = await openStream(`/v1/stream?token=${token}`)
    const answers: { type: string; cursor?: number }[] = []
    socket!.on('message', (data) => answers.push(JSON.parse(data.toString())))
    const count = 300
    for (let i = 0; i < count; i++) socket!.send(JSON.stringify({ type: 'ack', cursor: 0 }))
    await waitUntil(
      async () => (await metric('wallet_backend_stream_acks_total')) - received === count,
      30_000,
      'every ack received',
    )
    // Each transaction answers once, when it has committed.
    let ran = 0
    await waitUntil(
      async () => {
        ran = (await metric('wallet_backend_stream_ack_transactions_total')) - transactions
        return answers.length === ran
      },
      30_000,
      'an answer per transaction',
    )
    expect(ran).toBeGreaterThanOrEqual(1)
    expect(ran).toBeLessThan(count / 2)
    expect(answers.every((a) => a.type === 'acked' && a.cursor === 0)).toBe(true)
    socket!.close()
  })

  it('a client that floods its stream with acks is charged for them, told why and closed', async () => {
    const { token } = await signIn(backend.service.url)
    const { socket } = await openStream(`/v1/stream?token=${token}`)
    const errors: { code: string }[] = []
    socket!.on('message', (data) => {
      const message = JSON.parse(data.toString())
      if (message.type === 'error') errors.push(message)
    })
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket!.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    )
    // The default plan: a burst of 400 units; an ack costs what POST /deliveries/ack costs (3).
    for (let i = 0; i < 300; i++) socket!.send(JSON.stringify({ type: 'ack', cursor: 0 }))
    const { code, reason } = await closed
    expect(code).toBe(4029)
    expect(reason).toMatch(/rate limited/)
    expect(errors.map((e) => e.code)).toContain('RATE_LIMITED')
  })
})

describe('a forged forwarded header', () => {
  it('is refused with 403 FORWARD_REFUSED, and logged once for many requests', async () => {
    const { token } = await signIn(backend.service.url)
    const before = backend.logs.filter((line) => line.includes('x-wallet-backend-forwarded')).length
    for (let i = 0; i < 30; i++) {
      const answer = await get('/v1/usage', token, {
        headers: { 'x-wallet-backend-forwarded': `guess-${i}` },
      })
      expect(answer.status).toBe(403)
      expect(await answer.json()).toMatchObject({ code: 'FORWARD_REFUSED' })
    }
    const lines = backend.logs.filter((line) => line.includes('x-wallet-backend-forwarded')).slice(before)
    expect(lines).toHaveLength(1)
    expect(lines[0]).not.toMatch(/"stack"/)
    expect(await metric('wallet_backend_forged_forwards_total')).toBeGreaterThanOrEqual(30)
  })
})

describe('a session token in the query', () => {
  it('is refused on HTTP routes, taken on the stream upgrade, and never logged', async () => {
    const { token } = await signIn(backend.service.url)
    const url = backend.service.url
    for (const [method, path, body] of [
      ['POST', '/v1/deliveries/ack', { cursor: 0 }],
      ['GET', '/v1/deliveries', undefined],
    ] as const) {
      const answer = await fetch(`${url}${path}?token=${token}`, {
        method,
        ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
      })
      expect(answer.status).toBe(400)
      expect(await answer.json()).toMatchObject({ code: 'QUERY_TOKEN_NOT_ALLOWED' })
    }
    const { socket, status } = await openStream(`/v1/stream?after=0&token=${token}`)
    expect(status).toBe(101)
    socket!.close()
    await waitUntil(
      () => backend.logs.some((line) => line.includes('/v1/deliveries/ack?token=[redacted]')),
      10_000,
      'the refused request logged',
    )
    expect(backend.logs.filter((line) => line.includes(token))).toEqual([])
  })
})

describe('sessions', () => {
  it('a client holds at most --max-sessions-per-client: one more sign-in revokes the oldest', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const tokens = []
    for (let i = 0; i < 4; i++) tokens.push((await signIn(backend.service.url, account)).token)
    const statuses = []
    for (const token of tokens) statuses.push((await get('/v1/usage', token)).status)
    expect(statuses).toEqual([401, 200, 200, 200])
  })
})

describe('wallet state', () => {
  const put = (token: string, body: Uint8Array<ArrayBuffer>, precondition: Record<string, string>) =>
    get('/v1/wallet-state', token, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', ...precondition },
      body,
    })

  it('compares If-Match strongly: a weak tag of the current ETag does not match (412)', async () => {
    const { token } = await signIn(backend.service.url)
    const first = await put(token, new Uint8Array([1, 2, 3]), { 'if-none-match': '*' })
    expect(first.status).toBe(201)
    const etag = first.headers.get('etag')!
    const weak = await put(token, new Uint8Array([4, 5, 6]), { 'if-match': `W/${etag}` })
    expect(weak.status).toBe(412)
    expect(await weak.json()).toMatchObject({ code: 'PRECONDITION_FAILED' })
    expect((await put(token, new Uint8Array([4, 5, 6]), { 'if-match': etag })).status).toBe(200)
  })

  it('charges writes and reads by their bytes', async () => {
    // A write costs a unit per 4 KiB, a read one per 16 KiB, on top of the request's own cost.
    // Burst 100, one unit a second: 256 KiB are written for 67 units, and read back for 17 each;
    // reads costing 1 would take dozens of requests to be refused.
    const reader = await signIn(backend.service.url)
    await setPlan(reader.clientId, 'reader')
    const written = await put(reader.token, new Uint8Array(256 * 1024), { 'if-none-match': '*' })
    expect(written.status).toBe(201)
    const statuses: number[] = []
    for (let i = 0; i < 5 && !statuses.includes(429); i++) {
      const read = await get('/v1/wallet-state', reader.token)
      statuses.push(read.status)
      if (read.status === 429) expect(await read.json()).toMatchObject({ code: 'RATE_LIMITED' })
      else expect((await read.arrayBuffer()).byteLength).toBe(256 * 1024)
    }
    expect(statuses).toContain(429)

    // Burst 20: 1 KiB is written for a little over 3 units, 100 KiB would cost 28.
    const writer = await signIn(backend.service.url)
    await setPlan(writer.clientId, 'slow')
    const small = await put(writer.token, new Uint8Array(1024), { 'if-none-match': '*' })
    expect(small.status).toBe(201)
    const large = await put(writer.token, new Uint8Array(100 * 1024), {
      'if-match': small.headers.get('etag')!,
    })
    expect(large.status).toBe(429)
    expect(await large.json()).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'client' } })
  })
})

describe('with tight limits', () => {
  let tight: Backend
  beforeAll(async () => {
    tight = await start({
      'subnet-cost-burst': '60',
      'subnet-cost-per-second': '1',
      'admin-auth-failures-per-minute': '3',
      'request-timeout-ms': '2000',
      'session-max-lifetime-seconds': '3',
      'session-ttl-seconds': '3600',
    })
  })
  afterAll(() => tight.stop())

  it('closes a connection that dribbles its headers once the request timeout has passed', async () => {
    const { port } = new URL(tight.service.url)
    const socket = connect(Number(port), '127.0.0.1')
    let closed = false
    socket.on('close', () => {
      closed = true
    })
    socket.on('error', () => {})
    socket.write('GET /health HTTP/1.1\r\nHost: localhost\r\n')
    const dribble = setInterval(() => {
      if (!closed) socket.write('X-Slow: 1\r\n')
    }, 200)
    try {
      // The request timeout is 2 s. Node checks for expired connections every 30 s by default,
      // counting from when the server started listening, which this test follows closely (it
      // runs first): without a shorter interval the connection would live about 30 s.
      await waitUntil(() => closed, 10_000, 'the slow connection to be closed')
    } finally {
      clearInterval(dribble)
      socket.destroy()
    }
  }, 30_000)

  it('a refreshed session lives no longer than its sign-in', async () => {
    const { token, expiresAt } = await signIn(tight.service.url)
    const signedIn = Date.now()
    expect(Date.parse(expiresAt)).toBeLessThanOrEqual(signedIn + 3_000)
    const refresh = (bearer: string) =>
      fetch(`${tight.service.url}/v1/auth/refresh`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}` },
      })
    const refreshed = await refresh(token)
    expect(refreshed.status).toBe(200)
    const next = await refreshed.json()
    expect(Date.parse(next.expiresAt)).toBe(Date.parse(expiresAt))
    await waitUntil(() => Date.now() > Date.parse(next.expiresAt) + 100, 10_000, 'the sign-in to end')
    const late = await refresh(next.token)
    expect(late.status).toBe(401)
    expect(await late.json()).toMatchObject({ code: 'SESSION_INVALID' })
  })

  it('throttles admin authentication failures per subnet with 429 and Retry-After', async () => {
    const attempt = () =>
      fetch(`${tight.service.url}/admin/plans`, { headers: { authorization: 'Bearer not-the-admin-token' } })
    const statuses = []
    let refused: Response | undefined
    for (let i = 0; i < 5; i++) {
      const answer = await attempt()
      statuses.push(answer.status)
      if (answer.status === 429) refused = answer
      else await answer.arrayBuffer()
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429])
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await refused!.json()).toMatchObject({ code: 'RATE_LIMITED' })
    // The subnet is refused even with the right token until it has drained.
    expect((await adminRequest(tight.service.url, tight.dataDir, 'GET', '/plans')).status).toBe(429)
  })

  it('charges a percent-encoded sign-in path to the subnet like the plain one', async () => {
    const address = privateKeyToAccount(generatePrivateKey()).address
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        fetch(`${tight.service.url}/%761/auth/challenge`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ address }),
        }),
      ),
    )
    const statuses = answers.map((answer) => answer.status)
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(0)
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(10)
    const refused = answers.find((answer) => answer.status === 429)!
    expect(await refused.json()).toMatchObject({ code: 'RATE_LIMITED', details: { scope: 'subnet' } })
  })
})
