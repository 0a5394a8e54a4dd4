import type { Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import type { FetchedBlock } from '../../src/chain/follower/fetchBlocks.js'
import type { RpcBatchResult, RpcCall } from '../../src/chain/NodeClient.js'
import { RpcResponseError } from '../../src/chain/rpc/errors.js'
import { InternalTransfers } from '../../src/delivery/InternalTransfers.js'

const A = '0x00000000000000000000000000000000000000aa' as Hex
const B = '0x00000000000000000000000000000000000000bb' as Hex
const C = '0x00000000000000000000000000000000000000cc' as Hex
const block = (statuses: string[]) =>
  ({
    block: { number: '0x5', hash: `0x${'11'.repeat(32)}`, transactions: [] },
    receipts: statuses.map((status) => ({ status, logs: [] })),
  }) as unknown as FetchedBlock

/** A node without trace_block, answering debug_traceBlockByHash from `frames` (or refusing it too). */
function node(frames: unknown[] | undefined) {
  const calls: string[] = []
  const unsupported = (method: string) =>
    new RpcResponseError(method, {
      code: -32601,
      message: `the method ${method} does not exist/is not available`,
    })
  return {
    calls,
    batch: async <T>(requests: RpcCall[]): Promise<RpcBatchResult<T>[]> =>
      requests.map((request) => {
        calls.push(request.method)
        if (request.method === 'debug_traceBlockByHash' && frames) return { ok: true, value: frames as T }
        return { ok: false, error: unsupported(request.method) }
      }),
  }
}

describe('internal transfers from traces', () => {
  it('falls back to the call tracer, keeping only ether moved by calls that succeeded in transactions that succeeded', async () => {
    const frames = [
      {
        result: {
          type: 'CALL',
          from: A,
          to: B,
          value: '0x5', // the transaction's own value: not internal
          calls: [
            { type: 'CALL', from: B, to: C, value: '0x3' },
            { type: 'DELEGATECALL', from: B, to: C },
            {
              type: 'CALL',
              from: B,
              to: A,
              value: '0x9',
              error: 'execution reverted',
              calls: [{ type: 'CALL', from: A, to: C, value: '0x1' }],
            },
            { type: 'STATICCALL', from: B, to: C, calls: [{ type: 'CALL', from: C, to: A, value: '0x0' }] },
          ],
        },
      },
      { result: { type: 'CALL', from: A, to: B, calls: [{ type: 'CALL', from: B, to: C, value: '0x7' }] } },
    ]
    const fake = node(frames)
    const reader = new InternalTransfers(fake)
    expect(reader.source).toBe('unchecked')
    const fetched = block(['0x1', '0x0']) // the second transaction failed: its calls moved nothing
    const transfers = (await reader.read([fetched])).get(fetched.block.hash)
    expect(transfers).toEqual([{ txIndex: 0, from: B, to: C, value: 3n, traceAddress: [0] }])
    expect(reader.source).toBe('debug_traceBlockByHash')
    await reader.read([fetched])
    expect(fake.calls).toEqual(['trace_block', 'debug_traceBlockByHash', 'debug_traceBlockByHash'])
  })

  it('says so when the node has no traces, and stops asking', async () => {
    const fake = node(undefined)
    const reader = new InternalTransfers(fake)
    expect((await reader.read([block(['0x1'])])).size).toBe(0)
    expect(reader.source).toBe('none')
    await reader.read([block(['0x1'])])
    expect(fake.calls).toEqual(['trace_block', 'debug_traceBlockByHash'])
  })
})
