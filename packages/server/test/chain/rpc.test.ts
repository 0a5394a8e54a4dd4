import { createServer, type Server } from 'node:http'
import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { NodeUnavailableError, RpcResponseError, RpcTimeoutError } from '../../src/chain/rpc/errors.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'

const logger = pino({ level: 'silent' })
let anvil: TestAnvil

beforeAll(async () => {
  anvil = await startAnvil()
})
afterAll(async () => {
  await anvil.stop()
})

/** A node that accepts connections and never answers: the fault anvil cannot produce. */
async function hangingNode(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => {})
  const port = await freePort()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${port}`, server }
}

describe('RpcClient', () => {
  it('calls and batches over HTTP and WebSocket', async () => {
    for (const url of [anvil.node.httpUrl, anvil.node.wsUrl]) {
      const client = new RpcClient({ urls: [url], timeoutMs: 5000, logger })
      expect(await client.request('eth_chainId', [])).toBe('0x7a69')
      const results = await client.batch([
        { method: 'eth_chainId', params: [] },
        { method: 'eth_getBlockByNumber', params: ['0x0', false] },
        { method: 'no_such_method', params: [] },
      ])
      expect(results[0]).toEqual({ ok: true, value: '0x7a69' })
      expect(results[1]?.ok && (results[1].value as { number: string }).number).toBe('0x0')
      expect(results[2]?.ok).toBe(false)
      expect(!results[2]?.ok && results[2]?.error).toBeInstanceOf(RpcResponseError)
      await client.close()
    }
  })

  it('surfaces a JSON-RPC error with its code and does not fail over', async () => {
    const client = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 5000, logger })
    const error = await client
      .request('eth_getBalance', ['not-an-address', 'latest'])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RpcResponseError)
    expect(typeof (error as RpcResponseError).rpcCode).toBe('number')
    expect(client.status()[0]?.healthy).toBe(true)
    await client.close()
  })

  it('times out on a node that never answers', async () => {
    const { url, server } = await hangingNode()
    const client = new RpcClient({ urls: [url], timeoutMs: 300, logger })
    const error = await client.request('eth_chainId', []).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NodeUnavailableError)
    expect((error as Error).message).toMatch(/timed out after 300 ms/)
    await client.close()
    server.closeAllConnections()
    server.close()
  })

  it('fails over from a dead first URL, and returns to it when it comes back', async () => {
    const deadPort = await freePort()
    const metrics = new Registry()
    const client = new RpcClient({
      urls: [`http://127.0.0.1:${deadPort}`, anvil.node.httpUrl],
      timeoutMs: 2000,
      logger,
      metrics,
    })
    expect(await client.request('eth_chainId', [])).toBe('0x7a69')
    const [first, second] = client.status()
    expect(first).toMatchObject({ healthy: false, active: false })
    expect(first?.lastError).toMatch(/ECONNREFUSED/)
    expect(second).toMatchObject({ healthy: true, active: true })
    expect(await metrics.metrics()).toMatch(/wallet_backend_node_endpoint_up\{endpoint="0"\} 0/)

    const revived = await startAnvil({ port: deadPort })
    try {
      const deadline = Date.now() + 10_000
      while (!client.status()[0]?.active && Date.now() < deadline) {
        await client.request('eth_chainId', [])
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(client.status()[0]).toMatchObject({ healthy: true, active: true })
    } finally {
      await revived.stop()
      await client.close()
    }
  })

  it('reports the node down when every URL fails, and up when one answers again', async () => {
    const node = await startAnvil()
    const client = new RpcClient({ urls: [node.node.httpUrl], timeoutMs: 1000, logger })
    const events: boolean[] = []
    client.onAvailability((available) => events.push(available))
    await client.request('eth_chainId', [])
    await node.kill()
    await expect(client.request('eth_chainId', [])).rejects.toBeInstanceOf(NodeUnavailableError)
    await node.restart()
    const deadline = Date.now() + 10_000
    let answered = false
    while (!answered && Date.now() < deadline) {
      answered = await client.request('eth_chainId', []).then(
        () => true,
        () => false,
      )
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(answered).toBe(true)
    expect(events).toEqual([true, false, true])
    await client.close()
    await node.stop()
  })

  it('newHeads over WebSocket survives a node restart and reports the gap', async () => {
    const node = await startAnvil()
    const client = new RpcClient({ urls: [node.node.wsUrl], timeoutMs: 2000, logger })
    const heads: string[] = []
    let gaps = 0
    const unsubscribe = await client.subscribeNewHeads(
      (head) => heads.push((head as { number: string }).number),
      () => gaps++,
    )
    await node.mine(2)
    const wait = async (check: () => boolean) => {
      const deadline = Date.now() + 10_000
      while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(check()).toBe(true)
    }
    await wait(() => heads.length >= 2)
    await node.stop().catch(() => {})
    await node.restart()
    await wait(() => gaps === 1)
    await node.mine(1)
    await wait(() => heads.length >= 3)
    await unsubscribe()
    await client.close()
    await node.stop()
  })
})

describe('RpcTimeoutError', () => {
  it('names the method and the timeout', () => {
    expect(new RpcTimeoutError('http://x', 'eth_call', 5).message).toBe(
      'eth_call on http://x timed out after 5 ms',
    )
  })
})
