import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { scanLogs } from '../../src/chain/backfill/scanLogs.js'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import type { RpcLog } from '../../src/chain/types.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deployLogger, mineActivity } from '../support/chainActivity.js'
import { startFaultyNode } from '../support/faultyNode.js'

const logger = pino({ level: 'silent' })
let anvil: TestAnvil
let target: `0x${string}`
let other: `0x${string}`
let rpc: RpcClient

beforeAll(async () => {
  anvil = await startAnvil()
  target = await deployLogger(anvil)
  other = await deployLogger(anvil)
  await mineActivity(anvil, target, 40, 3)
  await mineActivity(anvil, other, 10, 2)
  await anvil.mine(100)
  await mineActivity(anvil, target, 10, 2)
  rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 5000, logger })
})
afterAll(async () => {
  await rpc.close()
  await anvil.stop()
})

const key = (log: RpcLog) => `${log.blockNumber}:${log.logIndex}`

describe('scanLogs', () => {
  it('returns exactly the logs one eth_getLogs over the whole range returns, in order', async () => {
    const head = await anvil.blockNumber()
    const truth = await rpc.request<RpcLog[]>('eth_getLogs', [
      { fromBlock: '0x0', toBlock: `0x${head.toString(16)}`, address: [target] },
    ])
    expect(truth.length).toBe(40 * 2 + 10 * 1)
    const seen: RpcLog[] = []
    const ranges: [number, number][] = []
    const result = await scanLogs({
      node: rpc,
      fromBlock: 0,
      toBlock: head,
      addresses: [target],
      initialChunkSize: 16,
      onChunk: async (logs, range) => {
        seen.push(...logs)
        ranges.push([range.from, range.to])
      },
    })
    expect(seen.map(key)).toEqual(truth.map(key))
    expect(result.logs).toBe(truth.length)
    // Ranges tile the whole span with no gap and no overlap.
    expect(ranges[0]![0]).toBe(0)
    expect(ranges.at(-1)![1]).toBe(head)
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]![0]).toBe(ranges[i - 1]![1] + 1)
  })

  it('shrinks its chunks when the node refuses large ranges, and still finds everything', async () => {
    const faulty = await startFaultyNode(anvil.node.httpUrl)
    const client = new RpcClient({ urls: [faulty.url], timeoutMs: 5000, logger })
    try {
      faulty.tamper = (message, answer) => {
        if (message.method !== 'eth_getLogs') return
        const { fromBlock, toBlock } = message.params[0] as { fromBlock: string; toBlock: string }
        if (Number(toBlock) - Number(fromBlock) + 1 <= 8) return
        return { id: answer.id, error: { code: -32005, message: 'query exceeds max block range 8' } }
      }
      const head = await anvil.blockNumber()
      const seen: RpcLog[] = []
      const result = await scanLogs({
        node: client,
        fromBlock: 0,
        toBlock: head,
        addresses: [target, other],
        initialChunkSize: 1000,
        onChunk: async (logs) => {
          seen.push(...logs)
        },
      })
      expect(result.shrinks).toBeGreaterThan(0)
      expect(seen.length).toBe(40 * 2 + 10 * 1 + 10 * 1)
    } finally {
      await client.close()
      await faulty.close()
    }
  })

  it('resumes from a checkpoint without a gap or a duplicate', async () => {
    const head = await anvil.blockNumber()
    const seen: string[] = []
    let checkpoint = -1
    await expect(
      scanLogs({
        node: rpc,
        fromBlock: 0,
        toBlock: head,
        addresses: [target],
        initialChunkSize: 10,
        maxChunkSize: 10,
        onChunk: async (logs, range) => {
          if (range.from >= 60) throw new Error('crash')
          seen.push(...logs.map(key))
          checkpoint = range.to
        },
      }),
    ).rejects.toThrow('crash')
    await scanLogs({
      node: rpc,
      fromBlock: checkpoint + 1,
      toBlock: head,
      addresses: [target],
      onChunk: async (logs) => {
        seen.push(...logs.map(key))
      },
    })
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen.length).toBe(40 * 2 + 10 * 1)
  })
})
