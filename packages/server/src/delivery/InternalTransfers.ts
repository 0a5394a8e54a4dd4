import type { Hex } from 'viem'
import { type FetchedBlock, isMethodUnsupported } from '../chain/follower/fetchBlocks.js'
import type { NodeClient } from '../chain/NodeClient.js'

/** Which tracing method the node answers; `none` when it has neither, `unchecked` before the first need. */
export type TraceSource = 'trace_block' | 'debug_traceBlockByHash' | 'none' | 'unchecked'

/** Ether moved by a call inside a transaction (not the transaction's own value). */
export type InternalTransfer = {
  txIndex: number
  from: Hex
  to: Hex
  value: bigint
  /** Where the call sits in the transaction's call tree (indexes of the calls leading to it). */
  traceAddress: number[]
}

type ParityTrace = {
  type: string
  action: {
    from?: Hex
    to?: Hex
    callType?: string
    value?: Hex
    address?: Hex
    refundAddress?: Hex
    balance?: Hex
  }
  result?: { address?: Hex } | null
  error?: string
  traceAddress: number[]
  transactionPosition?: number
}

type CallFrame = {
  type: string
  from: Hex
  to?: Hex
  value?: Hex
  error?: string
  calls?: CallFrame[]
}

/**
 * Reads the internal ether transfers of blocks from the node's traces: one call per block for
 * everyone, `trace_block` where the node has it, else `debug_traceBlockByHash` with the call
 * tracer. Only calls that succeeded, inside transactions that succeeded, count; calls that move no
 * ether, delegate calls and static calls do not.
 */
export class InternalTransfers {
  readonly #node: Pick<NodeClient, 'batch'>
  #source: TraceSource = 'unchecked'

  constructor(node: Pick<NodeClient, 'batch'>) {
    this.#node = node
  }

  get source(): TraceSource {
    return this.#source
  }

  /** The transfers of each block by its hash; empty when the node has no traces. */
  async read(blocks: readonly FetchedBlock[]): Promise<Map<Hex, InternalTransfer[]>> {
    const out = new Map<Hex, InternalTransfer[]>()
    if (blocks.length === 0 || this.#source === 'none') return out
    if (this.#source === 'unchecked' || this.#source === 'trace_block') {
      const results = await this.#node.batch<ParityTrace[]>(
        blocks.map(({ block }) => ({ method: 'trace_block', params: [block.number] })),
      )
      if (results.every((r) => r.ok)) {
        this.#source = 'trace_block'
        results.forEach((r, i) => {
          if (r.ok) out.set(blocks[i]!.block.hash, fromParity(r.value, blocks[i]!))
        })
        return out
      }
      const failed = results.find((r) => !r.ok)
      if (!failed || failed.ok || !isMethodUnsupported(failed.error) || this.#source === 'trace_block')
        throw failed && !failed.ok ? failed.error : new Error('trace_block failed')
      this.#source = 'debug_traceBlockByHash'
    }
    const results = await this.#node.batch<{ result: CallFrame }[]>(
      blocks.map(({ block }) => ({
        method: 'debug_traceBlockByHash',
        params: [block.hash, { tracer: 'callTracer' }],
      })),
    )
    const failed = results.find((r) => !r.ok)
    if (failed && !failed.ok) {
      if (!isMethodUnsupported(failed.error)) throw failed.error
      this.#source = 'none'
      return out
    }
    this.#source = 'debug_traceBlockByHash'
    results.forEach((r, i) => {
      if (r.ok) out.set(blocks[i]!.block.hash, fromCallTracer(r.value, blocks[i]!))
    })
    return out
  }
}

const succeeded = (fetched: FetchedBlock, txIndex: number) => {
  const status = fetched.receipts[txIndex]?.status
  return status === undefined || status === '0x1'
}

function fromParity(traces: readonly ParityTrace[], fetched: FetchedBlock): InternalTransfer[] {
  const out: InternalTransfer[] = []
  const failedPaths = new Map<number, string[]>()
  for (const trace of traces) {
    const txIndex = trace.transactionPosition
    if (txIndex === undefined || !succeeded(fetched, txIndex)) continue
    const path = trace.traceAddress.join('.')
    const failed = failedPaths.get(txIndex) ?? []
    if (trace.error) {
      failed.push(path)
      failedPaths.set(txIndex, failed)
      continue
    }
    if (trace.traceAddress.length === 0) continue
    // Children come after their parent: a call under a failed one moved nothing.
    if (failed.some((p) => p === '' || path === p || path.startsWith(`${p}.`))) continue
    const { action } = trace
    let transfer: [Hex | undefined, Hex | undefined, Hex | undefined] | undefined
    if (trace.type === 'call' && action.callType === 'call') transfer = [action.from, action.to, action.value]
    else if (trace.type === 'create') transfer = [action.from, trace.result?.address, action.value]
    else if (trace.type === 'suicide') transfer = [action.address, action.refundAddress, action.balance]
    if (!transfer) continue
    const [from, to, value] = transfer
    if (!from || !to || !value || BigInt(value) === 0n) continue
    out.push({
      txIndex,
      from: from.toLowerCase() as Hex,
      to: to.toLowerCase() as Hex,
      value: BigInt(value),
      traceAddress: trace.traceAddress,
    })
  }
  return out
}

function fromCallTracer(traces: readonly { result: CallFrame }[], fetched: FetchedBlock): InternalTransfer[] {
  const out: InternalTransfer[] = []
  const walk = (frame: CallFrame, txIndex: number, traceAddress: number[]) => {
    if (frame.error) return
    const type = frame.type.toUpperCase()
    const moves = type === 'CALL' || type === 'CREATE' || type === 'CREATE2' || type === 'SELFDESTRUCT'
    if (traceAddress.length > 0 && moves && frame.to && frame.value && BigInt(frame.value) > 0n) {
      out.push({
        txIndex,
        from: frame.from.toLowerCase() as Hex,
        to: frame.to.toLowerCase() as Hex,
        value: BigInt(frame.value),
        traceAddress,
      })
    }
    for (const [i, child] of (frame.calls ?? []).entries()) walk(child, txIndex, [...traceAddress, i])
  }
  traces.forEach((trace, txIndex) => {
    if (trace.result && succeeded(fetched, txIndex)) walk(trace.result, txIndex, [])
  })
  return out
}
