import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../src/chain/node/freePort.js'
import {
  NodeUnavailableError,
  RpcChainMismatchError,
  RpcResponseError,
  RpcTimeoutError,
  RpcTransportError,
  SubscriptionsUnsupportedError,
} from '../../../src/chain/rpc/errors.js'
import { type NewHead, RpcClient } from '../../../src/chain/rpc/RpcClient.js'
import { startAnvil, type TestAnvil } from '../../support/anvil.js'
import { deafWebSocketNode, fakeHttpNode, hangingNode } from './fakeNodes.js'

let anvil: TestAnvil
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  anvil = await startAnvil()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await anvil.stop()
})

function client(options: ConstructorParameters<typeof RpcClient>[0]): RpcClient {
  const rpc = new RpcClient(options)
  cleanups.push(() => rpc.close())
  return rpc
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

/** Runtime code that reverts with the 4 bytes 0xdeadbeef, installed with an eth_call state override. */
const REVERTER = '0x63deadbeef60e01b60005260046000fd'
const SOME_ADDRESS = '0x00000000000000000000000000000000000c0de0'

describe('requests and batches', () => {
  for (const transport of ['http', 'ws'] as const) {
    it(`calls and batches over ${transport}, with per-call errors in the batch`, async () => {
      const url = transport === 'http' ? anvil.node.httpUrl : anvil.node.wsUrl
      const rpc = client({ urls: [url], maxBatchSize: 3 })
      await anvil.mine(2)
      expect(await rpc.request('eth_chainId', [])).toBe('0x7a69')
      const head = await anvil.blockNumber()
      const calls = [
        ...Array.from({ length: 5 }, (_, n) => ({
          method: 'eth_getBlockByNumber',
          params: [`0x${n.toString(16)}`, false],
        })),
        { method: 'no_such_method', params: [] },
        { method: 'eth_blockNumber', params: [] },
      ]
      // 7 calls in batches of at most 3: three JSON-RPC batch messages, answers in call order.
      const results = await rpc.batch<{ number: string } | string>(calls)
      expect(results).toHaveLength(7)
      for (let n = 0; n < 5; n++) {
        const result = results[n]!
        if (n > head) expect(result).toEqual({ ok: true, value: null })
        else expect(result.ok && (result.value as { number: string }).number).toBe(`0x${n.toString(16)}`)
      }
      const refused = results[5]!
      expect(refused.ok).toBe(false)
      expect(!refused.ok && refused.error).toBeInstanceOf(RpcResponseError)
      // anvil says "method not found" over HTTP, but "invalid params" over WebSocket.
      expect(!refused.ok && (refused.error as RpcResponseError).rpcCode).toBe(
        transport === 'http' ? -32601 : -32602,
      )
      expect(results[6]).toEqual({ ok: true, value: `0x${head.toString(16)}` })
      expect(rpc.status()[0]).toMatchObject({ healthy: true, active: true, kind: transport, chainId: 31337 })
    })
  }

  it('surfaces a JSON-RPC error with its code, message and data, and does not fail over', async () => {
    const second = await startAnvil()
    cleanups.push(() => second.stop())
    const metrics = new Registry()
    const rpc = client({ urls: [anvil.node.httpUrl, second.node.httpUrl], metrics })
    const error = await failure(
      rpc.request('eth_call', [
        { to: SOME_ADDRESS, data: '0x' },
        'latest',
        { [SOME_ADDRESS]: { code: REVERTER } },
      ]),
    )
    expect(error).toBeInstanceOf(RpcResponseError)
    const refused = error as RpcResponseError
    expect(refused.code).toBe('NODE_RPC_ERROR')
    expect(refused.rpcCode).toBe(3)
    expect(refused.rpcMessage).toMatch(/revert/)
    expect(refused.data).toBe('0xdeadbeef')
    const invalid = await failure(rpc.request('eth_getBalance', ['not-an-address', 'latest']))
    expect((invalid as RpcResponseError).rpcCode).toBe(-32602)
    expect(rpc.status().map((s) => [s.healthy, s.active])).toEqual([
      [true, true],
      [true, false],
    ])
    const counted = await metrics.getSingleMetricAsString('wallet_backend_node_requests_total')
    expect(counted).toMatch(/method="eth_call",endpoint="0",outcome="rpc_error"\} 1/)
    expect(counted).not.toMatch(/endpoint="1"/)
  })

  it('answers a batch refused as a whole with that error for each call, and keeps the endpoint', async () => {
    const refuser = await fakeHttpNode((body, response) => {
      response.setHeader('content-type', 'application/json')
      if (!Array.isArray(body)) {
        response.end(JSON.stringify({ jsonrpc: '2.0', id: (body as { id: number }).id, result: '0x7a69' }))
        return
      }
      response.end(
        JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32005, message: 'batch too large' } }),
      )
    })
    cleanups.push(() => refuser.close())
    const rpc = client({ urls: [refuser.url, anvil.node.httpUrl] })
    const results = await rpc.batch([
      { method: 'eth_blockNumber', params: [] },
      { method: 'eth_chainId', params: [] },
    ])
    for (const result of results) {
      expect(result.ok).toBe(false)
      expect(!result.ok && (result.error as RpcResponseError).rpcCode).toBe(-32005)
    }
    expect(rpc.status()[0]).toMatchObject({ healthy: true, active: true })
  })
})

describe('timeouts and cancellation', () => {
  it('times out on an endpoint that never answers', async () => {
    const hanging = await hangingNode()
    cleanups.push(() => hanging.close())
    const rpc = client({ urls: [hanging.url], timeoutMs: 300 })
    const started = Date.now()
    const error = await failure(rpc.request('eth_blockNumber', []))
    const elapsed = Date.now() - started
    expect(error).toBeInstanceOf(NodeUnavailableError)
    const [cause] = (error as NodeUnavailableError).errors
    expect(cause).toBeInstanceOf(RpcTimeoutError)
    // The endpoint's chain id is checked before its first call: that check is what timed out.
    expect(cause).toMatchObject({ code: 'NODE_TIMEOUT', method: 'eth_chainId', timeoutMs: 300 })
    expect(error.message).toBe('No node is available (endpoint #0: eth_chainId timed out after 300 ms)')
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(elapsed).toBeLessThan(2_000)
  })

  it('applies a per-call timeout, and pays it once per backoff on a hanging first endpoint', async () => {
    const hanging = await hangingNode()
    cleanups.push(() => hanging.close())
    const rpc = client({
      urls: [hanging.url, anvil.node.httpUrl],
      timeoutMs: 5_000,
      backoff: { initialMs: 60_000 },
    })
    const started = Date.now()
    expect(await rpc.request('eth_chainId', [], { timeoutMs: 200 })).toBe('0x7a69')
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(rpc.status()[0]?.lastError).toMatch(/timed out after 200 ms/)
    // The hanging endpoint is benched: the next calls go straight to the second one.
    const next = Date.now()
    for (let i = 0; i < 5; i++) await rpc.request('eth_blockNumber', [])
    expect(Date.now() - next).toBeLessThan(150)
    expect(hanging.requests).toHaveLength(1)
  })

  it('abandons a call when its signal fires, without blaming the endpoint', async () => {
    const hanging = await hangingNode()
    cleanups.push(() => hanging.close())
    const rpc = client({ urls: [hanging.url], timeoutMs: 5_000 })
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('caller gave up')), 100)
    const started = Date.now()
    const error = await failure(rpc.request('eth_blockNumber', [], { signal: controller.signal }))
    expect(error.message).toBe('caller gave up')
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(rpc.status()[0]).toMatchObject({ healthy: true, failures: 0 })
    const already = AbortSignal.abort(new Error('too late'))
    expect((await failure(rpc.request('eth_blockNumber', [], { signal: already }))).message).toBe('too late')
  })
})

describe('failover', () => {
  it('serves through the second URL while the first is down, and returns to the first after a probe', async () => {
    const deadPort = await freePort()
    const metrics = new Registry()
    const rpc = client({
      urls: [`http://127.0.0.1:${deadPort}`, anvil.node.httpUrl],
      metrics,
      probeIntervalMs: 50,
    })
    expect(await rpc.request('eth_chainId', [])).toBe('0x7a69')
    const [first, second] = rpc.status()
    expect(first).toMatchObject({ healthy: false, active: false, failures: 1 })
    expect(first?.lastError).toMatch(/ECONNREFUSED/)
    expect(second).toMatchObject({ healthy: true, active: true })
    expect(await metrics.metrics()).toMatch(/wallet_backend_node_endpoint_up\{endpoint="0"\} 0/)

    const revived = await startAnvil({ port: deadPort })
    cleanups.push(() => revived.stop())
    // No call is needed: the background probe finds it healthy again.
    await waitFor(() => rpc.status()[0]?.healthy === true, 'the probe to find the first endpoint back')
    expect(await metrics.metrics()).toMatch(/wallet_backend_node_endpoint_up\{endpoint="0"\} 1/)
    await rpc.request('eth_blockNumber', [])
    expect(rpc.status().map((s) => s.active)).toEqual([true, false])
  })

  it('fails over on HTTP 5xx and 429, and honours Retry-After', async () => {
    const failing = await fakeHttpNode((_, response) => {
      response.statusCode = 503
      response.setHeader('retry-after', '30')
      response.end('<html>upstream unavailable</html>')
    })
    cleanups.push(() => failing.close())
    const rpc = client({ urls: [failing.url, anvil.node.httpUrl], probeIntervalMs: 50 })
    expect(await rpc.request('eth_chainId', [])).toBe('0x7a69')
    const [first] = rpc.status()
    expect(first?.lastError).toMatch(/HTTP 503: <html>upstream unavailable<\/html>/)
    // Benched for the 30 s it asked for, not the 0.5 s of a first failure.
    expect(first?.retryInMs).toBeGreaterThan(25_000)
  })

  it('keeps an endpoint of another chain out of service', async () => {
    const other = await startAnvil({ chainId: 999 })
    cleanups.push(() => other.stop())
    const rpc = client({ urls: [anvil.node.httpUrl, other.node.httpUrl], chainId: 31337 })
    const refused = client({ urls: [other.node.httpUrl], chainId: 31337 })
    const error = await failure(refused.request('eth_blockNumber', []))
    expect(error).toBeInstanceOf(NodeUnavailableError)
    expect((error as NodeUnavailableError).errors[0]).toBeInstanceOf(RpcChainMismatchError)
    expect(error.message).toMatch(/serves chain 999, not chain 31337/)
    expect(refused.status()[0]).toMatchObject({ healthy: false, chainId: 999 })
    expect(await rpc.request('eth_chainId', [])).toBe('0x7a69')
  })

  it('reports down when every endpoint fails, fails fast while they back off, and reports up when one returns', async () => {
    const node = await startAnvil()
    cleanups.push(() => node.stop())
    const rpc = client({
      urls: [node.node.httpUrl],
      timeoutMs: 1_000,
      probeIntervalMs: 50,
      backoff: { initialMs: 1_000 },
    })
    const events: string[] = []
    rpc.on('up', () => events.push('up'))
    rpc.on('down', (reason) => events.push(`down: ${reason}`))
    await rpc.request('eth_chainId', [])
    expect(rpc.available).toBe(true)
    await node.kill()
    const error = await failure(rpc.request('eth_chainId', []))
    expect(error).toBeInstanceOf(NodeUnavailableError)
    expect((error as NodeUnavailableError).code).toBe('NODE_UNAVAILABLE')
    expect((error as NodeUnavailableError).status).toBe(503)
    expect(error.message).toMatch(/endpoint #0: ECONNREFUSED/)
    expect(rpc.available).toBe(false)
    // While the only endpoint backs off, a call fails at once without trying it (which would
    // count another failure), and says when to retry.
    const again = await failure(rpc.request('eth_chainId', []))
    expect(again).toBeInstanceOf(NodeUnavailableError)
    expect(again.message).toMatch(/endpoint #0: ECONNREFUSED/)
    expect((again as NodeUnavailableError).details?.retryAfterSeconds).toBe(1)
    expect(rpc.status()[0]).toMatchObject({ healthy: false, failures: 1 })

    await node.restart()
    await waitFor(() => events.length === 3, 'the up event')
    expect(events).toEqual(['up', 'down: No node is available (endpoint #0: ECONNREFUSED)', 'up'])
    expect(await rpc.request('eth_chainId', [])).toBe('0x7a69')
  })
})

describe('newHeads subscriptions', () => {
  it('is unavailable without a WebSocket endpoint', async () => {
    const rpc = client({ urls: [anvil.node.httpUrl] })
    expect(rpc.supportsSubscriptions).toBe(false)
    await expect(rpc.subscribe('newHeads', () => {})).rejects.toBeInstanceOf(SubscriptionsUnsupportedError)
  })

  it('delivers mined heads, survives a node crash and restart on the same port, and reports the gap', async () => {
    const node = await startAnvil()
    cleanups.push(() => node.stop())
    const rpc = client({ urls: [node.node.httpUrl, node.node.wsUrl] })
    expect(rpc.supportsSubscriptions).toBe(true)
    const heads: NewHead[] = []
    let gaps = 0
    const unsubscribe = await rpc.subscribe('newHeads', (head) => heads.push(head), { onGap: () => gaps++ })
    await node.mine(3)
    await waitFor(() => heads.length === 3, 'three heads')
    expect(heads.map((head) => Number(head.number))).toEqual([1, 2, 3])
    expect(heads[1]?.parentHash).toBe(heads[0]?.hash)

    await node.node.saveState()
    await node.kill()
    await node.restart()
    await waitFor(() => gaps === 1, 'the gap report')
    await node.mine(1)
    await waitFor(() => heads.length === 4, 'a head after the restart')
    expect(Number(heads[3]?.number)).toBe(4)

    await unsubscribe()
    await node.mine(1)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(heads).toHaveLength(4)
    expect(gaps).toBe(1)
  })

  it('drops a connection that stops answering pings and subscribes again', async () => {
    const deaf = await deafWebSocketNode()
    cleanups.push(() => deaf.close())
    const rpc = client({ urls: [deaf.url], webSocket: { pingIntervalMs: 100 } })
    let gaps = 0
    await rpc.subscribe('newHeads', () => {}, { onGap: () => gaps++ })
    await waitFor(() => gaps >= 1, 'a renewed subscription', 5_000)
    expect(deaf.connections()).toBeGreaterThanOrEqual(2)
    const subscribes = deaf.requests.filter((r) => (r as { method: string }).method === 'eth_subscribe')
    expect(subscribes.length).toBeGreaterThanOrEqual(2)
  })
})

describe('lifecycle and metrics', () => {
  it('rejects calls after close and closes its WebSocket', async () => {
    const rpc = new RpcClient({ urls: [anvil.node.wsUrl] })
    await rpc.request('eth_chainId', [])
    await rpc.close()
    expect(await failure(rpc.request('eth_chainId', []))).toBeInstanceOf(RpcTransportError)
  })

  it('shares one registry between clients and counts calls by outcome', async () => {
    const metrics = new Registry()
    const dead = `http://127.0.0.1:${await freePort()}`
    const first = client({ urls: [dead, anvil.node.httpUrl], metrics })
    const second = client({ urls: [anvil.node.httpUrl], metrics })
    await first.request('eth_blockNumber', [])
    await second.batch([
      { method: 'eth_blockNumber', params: [] },
      { method: 'nope', params: [] },
    ])
    const text = await metrics.metrics()
    expect(text).toMatch(/method="eth_chainId",endpoint="0",outcome="transport_error"\} 1/)
    expect(text).toMatch(/method="nope",endpoint="0",outcome="rpc_error"\} 1/)
    expect(text).toMatch(/wallet_backend_node_request_seconds_count\{method="batch",endpoint="0"\} 1/)
  })
})
