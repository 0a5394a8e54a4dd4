import { get } from 'node:http'
import { connect, type Socket } from 'node:net'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { waitUntil } from '../../server/test/support/waitUntil.js'
import { reconnectDelay, StreamError, WalletBackendClient } from '../src/index.js'
import { type LiveBackend, startLiveBackend } from './support/liveBackend.js'

const CONNECTIONS_PER_IP = 4
let live: LiveBackend

beforeAll(async () => {
  live = await startLiveBackend([
    '--max-connections-per-ip',
    String(CONNECTIONS_PER_IP),
    '--max-streams-per-subnet',
    '1',
  ])
}, 180_000)

afterAll(async () => {
  await live?.stop()
})

/** A plain HTTP GET from `localAddress` on a connection of its own: status, headers and body. */
function getFrom(localAddress: string, path: string) {
  return new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
    const request = get(`${live.backend.url}${path}`, { localAddress, agent: false }, (response) => {
      let body = ''
      response.on('data', (chunk) => {
        body += chunk
      })
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body }),
      )
    })
    request.on('error', reject)
  })
}

/** `ws` dialling from another loopback address, as a wallet behind another IP would. */
const webSocketFrom = (localAddress: string) =>
  class extends WebSocket {
    constructor(url: string) {
      super(url, { localAddress })
    }
  }

describe('refused streams say why', () => {
  it('an address at its connection bound still gets /health and /ready, and is told why for the rest, stream included', async () => {
    const crowd = '127.0.0.2'
    const held: Socket[] = []
    for (let i = 0; i < CONNECTIONS_PER_IP; i++) {
      const socket = connect({
        host: '127.0.0.1',
        port: Number(new URL(live.backend.url).port),
        localAddress: crowd,
      })
      await new Promise((resolve) => socket.once('connect', resolve))
      held.push(socket)
    }
    try {
      expect((await getFrom(crowd, '/health')).status).toBe(200)
      expect((await getFrom(crowd, '/ready')).status).toBe(200)
      const refused = await getFrom(crowd, '/v1/usage')
      expect(refused.status).toBe(503)
      expect(refused.retryAfter).toBe('10')
      expect(JSON.parse(refused.body).code).toBe('TOO_MANY_CONNECTIONS')

      // It signs in from 127.0.0.1; only its stream comes from the crowded address.
      const crowded = new WalletBackendClient({
        url: live.backend.url,
        account: privateKeyToAccount(generatePrivateKey()),
        WebSocket: webSocketFrom(crowd) as never,
      })
      await crowded.signIn()
      const crowdedErrors: StreamError[] = []
      const crowdedStream = crowded.stream({
        onItem: () => {},
        onError: (error) => crowdedErrors.push(error as StreamError),
      })
      await waitUntil(() => crowdedErrors.length > 0, 30_000, 'the refusal')
      crowdedStream.close()
      expect(crowdedErrors[0]).toBeInstanceOf(StreamError)
      expect(crowdedErrors[0]!.code).toBe('TOO_MANY_CONNECTIONS')
      expect(crowdedErrors[0]!.status).toBe(503)
      expect(crowdedErrors[0]!.retryAfterSeconds).toBe(10)
    } finally {
      for (const socket of held) socket.destroy()
    }
  })

  it('a stream over the subnet bound reports TOO_MANY_STREAMS with its hint, and waits that long before trying again', async () => {
    const first = live.client()
    await first.signIn()
    let opened = false
    const holding = first.stream({
      onItem: () => {},
      onOpen: () => {
        opened = true
      },
    })
    await waitUntil(() => opened, 30_000, 'the first stream to open')
    const second = live.client()
    await second.signIn()
    const refusals: { error: StreamError; at: number }[] = []
    const refused = second.stream({
      onItem: () => {},
      onError: (error) => refusals.push({ error: error as StreamError, at: Date.now() }),
      minReconnectMs: 10,
    })
    try {
      await waitUntil(() => refusals.length >= 2, 60_000, 'two refusals')
      const [a, b] = refusals as [(typeof refusals)[0], (typeof refusals)[0]]
      expect(a.error.code).toBe('TOO_MANY_STREAMS')
      expect(a.error.status).toBe(429)
      expect(a.error.retryAfterSeconds).toBe(5)
      // Not the 10 ms of its backoff: the server's hint.
      expect(b.at - a.at).toBeGreaterThanOrEqual(5_000)
    } finally {
      refused.close()
      holding.close()
    }
  })
})

describe('reconnectDelay', () => {
  it('spreads attempts over a window that doubles per attempt up to the bound (full jitter)', () => {
    const bounds = { minMs: 200, maxMs: 10_000 }
    expect(reconnectDelay(0, { ...bounds, random: () => 0 })).toBe(0)
    expect(reconnectDelay(0, { ...bounds, random: () => 0.999999 })).toBeCloseTo(200, 0)
    expect(reconnectDelay(3, { ...bounds, random: () => 0.5 })).toBe(800)
    expect(reconnectDelay(40, { ...bounds, random: () => 0.999999 })).toBeCloseTo(10_000, 0)
  })

  it("never comes back sooner than the server's hint, and spreads after it", () => {
    const bounds = { minMs: 200, maxMs: 1_000, retryAfterSeconds: 5 }
    expect(reconnectDelay(0, { ...bounds, random: () => 0 })).toBe(5_000)
    expect(reconnectDelay(0, { ...bounds, random: () => 0.5 })).toBe(7_500)
  })
})
