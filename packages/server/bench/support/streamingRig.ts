import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { startAnvil, type TestAnvil } from '../../test/support/anvil.js'
import { deployTransferEmitter, sendTransfer, transferCalldata } from '../../test/support/chainActivity.js'
import { createTestDatabase } from '../../test/support/createTestDatabase.js'
import { type ForkedProcess, forkedProcess } from './forkedProcess.js'
import { type HistogramTotals, histogramTotals, meanMsBetween } from './histogramTotals.js'
import { type SpawnedBackend, spawnBackend } from './spawnBackend.js'
import type { WalletEvent, WalletRequest } from './streamingWallets.js'

/** Wall clock in ms, comparable across the processes of one machine. */
export const wallClock = () => performance.timeOrigin + performance.now()

/** Streams per wallet process at most, and processes at most: enough that no one process's
 * parsing queues the items, few enough that they do not crowd the backend off 2 cores. */
const STREAMS_PER_PROCESS = 500
const MAX_PROCESSES = 4
/** How long one wallet process may take to sign in and open its share; what is not open by then is reported. */
const OPEN_TIMEOUT_MS = 300_000

/** The backend's own clocks: the follower's batch (fetch, verify, store, match and queue) and an item's wait from its queuing to its first delivery. */
const BATCH = 'wallet_backend_chain_batch_seconds'
const QUEUED_TO_DELIVERED = 'wallet_backend_delivery_latency_seconds'

/** What one measured phase saw: a latency per (stream, item) received, and how many were expected. */
export type Phase = {
  latencies: number[]
  /** Per transfer (or block), its earliest delivery: the pipeline without the fan-out to every stream. */
  firsts: number[]
  expected: number
  received: number
  /** From the first send to the last item received (or to the end of the wait). */
  seconds: number
  backendCpuMs: number
  /** Means over the phase of the backend's batch time and its items' time from queued to delivered. */
  batchMs: number
  queuedToDeliveredMs: number
  /** `os.loadavg()[0]` at the end of the phase. */
  load: number
}

export type StreamingRig = {
  readonly backend: SpawnedBackend
  /** Streams open now. */
  readonly streams: number
  /** Failures the wallets saw while signing in and opening streams, by code. */
  readonly failures: Record<string, number>
  /** Opens streams of new wallets until `total` are open (or the wallets' time is up). */
  grow(total: number): Promise<void>
  /** Whether the wallets acknowledge every item (the backend then commits an ack per stream and item). */
  acking(on: boolean): void
  /** Closes streams until `total` are open. */
  shrink(total: number): Promise<void>
  /** Transfers one at a time, each mined in a block of its own and awaited by every stream (up to `waitMs`) before the next. */
  sendOneByOne(transfers: number, waitMs: number): Promise<Phase>
  /** `blocks` blocks of `perBlock` transfers, one every `intervalMs`, then waits (up to `waitMs`) for the last items. */
  mineBlocks(options: {
    blocks: number
    perBlock: number
    intervalMs: number
    waitMs: number
  }): Promise<Phase>
  stop(): Promise<void>
}

/**
 * The live-latency set-up: anvil; the `wallet-backend start` CLI in a process of its own following
 * it over WebSocket (on PGlite, or a scratch PostgreSQL database); one token; wallets streaming its
 * `Transfer` logs from child processes. Transfer i carries amount i, so an item says which send it
 * answers; a send's time is taken here just before the transaction goes to the node (or, with
 * several in a block, before the block is mined), the receive time in the wallet's process.
 */
export async function startStreamingRig(options: {
  maxStreams: number
  databaseUrl?: string
  /** Where the backend writes a CPU profile when it stops (`node --cpu-prof`). */
  cpuProfileDir?: string
}): Promise<StreamingRig> {
  const anvil = await startAnvil()
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-latency-'))
  let scratch: Awaited<ReturnType<typeof createTestDatabase>> | undefined
  let backend: SpawnedBackend | undefined
  const wallets: ForkedProcess<WalletEvent, WalletRequest>[] = []
  const cleanUp = async () => {
    await Promise.all(wallets.map((w) => w.stop()))
    await backend?.stop()
    // A database that will not go (PostgreSQL waiting on another session) is left, not waited for.
    const dropping = scratch?.drop()
    const dropped = await Promise.race([
      dropping?.then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref()),
    ])
    if (dropping && !dropped)
      console.error(`latency: the scratch database ${scratch!.url} was not dropped within 30 s`)
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
  try {
    scratch = options.databaseUrl ? await createTestDatabase(options.databaseUrl) : undefined
    const nodeArgs = options.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir] : []
    backend = await spawnBackend(
      {
        'data-dir': dataDir,
        'node-url': anvil.node.wsUrl,
        // The wallets' proof of work would only take the shared cores from the backend.
        'registration-pow-bits': '0',
        'max-streams-per-subnet': String(options.maxStreams + 10),
        'max-connections-per-ip': String(3 * options.maxStreams + 100),
        // Every wallet comes from the loopback's one subnet here; its cost limit is not what is measured.
        'subnet-cost-per-second': '1000000',
        'subnet-cost-burst': '10000000',
        ...(scratch ? { 'database-url': scratch.url } : {}),
      },
      nodeArgs,
    )
    const processes = Math.min(MAX_PROCESSES, Math.ceil(options.maxStreams / STREAMS_PER_PROCESS))
    for (let k = 0; k < processes; k++)
      wallets.push(
        forkedProcess<WalletEvent, WalletRequest>(new URL('./streamingWallets.ts', import.meta.url)),
      )
    const token = await deployTransferEmitter(anvil)
    return rig(anvil, backend, token, wallets, cleanUp)
  } catch (error) {
    await cleanUp()
    throw error
  }
}

function rig(
  anvil: TestAnvil,
  backend: SpawnedBackend,
  token: `0x${string}`,
  wallets: ForkedProcess<WalletEvent, WalletRequest>[],
  cleanUp: () => Promise<void>,
): StreamingRig {
  const perProcess = wallets.map(() => 0)
  const failures: Record<string, number> = {}
  // Amounts every stream of a process has: a phase waits on these rather than on a clock.
  const complete = wallets.map(() => new Set<number>())
  for (const [k, w] of wallets.entries()) w.on('complete', (event) => complete[k]!.add(event.amount))
  let nextAmount = 1
  const sentAt = new Map<number, number>()
  const total = () => perProcess.reduce((a, b) => a + b, 0)

  /** Until every process has every amount, or `waitMs` passed; bounded polling of local state. */
  const allReceived = async (amounts: number[], waitMs: number) => {
    const deadline = Date.now() + waitMs
    const done = () =>
      complete.every((set, k) => perProcess[k] === 0 || amounts.every((amount) => set.has(amount)))
    while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 2))
  }

  /** The receive times of the phase's amounts, from every process, as latencies from their send. */
  const readBackend = async () => ({
    cpuMs: backend.cpuMs(),
    histograms: await histogramTotals(backend.url, [BATCH, QUEUED_TO_DELIVERED]),
  })
  const collect = async (
    amounts: number[],
    started: number,
    before: { cpuMs: number; histograms: Record<string, HistogramTotals> },
  ): Promise<Phase> => {
    const after = await readBackend()
    const wanted = new Set(amounts)
    const latencies: number[] = []
    const first = new Map<number, number>()
    let last = started
    for (const w of wallets) {
      const collected = w.next('collected', 60_000)
      w.send({ type: 'collect' })
      const { amounts: got, times } = await collected
      got.forEach((amount, i) => {
        const at = sentAt.get(amount)
        if (at === undefined || !wanted.has(amount)) return
        const latency = times[i]! - at
        latencies.push(latency)
        // Transfers of one block share their send time: one first per block.
        first.set(at, Math.min(first.get(at) ?? latency, latency))
        last = Math.max(last, times[i]!)
      })
    }
    return {
      latencies,
      firsts: [...first.values()],
      expected: total() * amounts.length,
      received: latencies.length,
      seconds: (last - started) / 1000,
      backendCpuMs: backend.cpuMs() - before.cpuMs,
      batchMs: meanMsBetween(before.histograms[BATCH]!, after.histograms[BATCH]!),
      queuedToDeliveredMs: meanMsBetween(
        before.histograms[QUEUED_TO_DELIVERED]!,
        after.histograms[QUEUED_TO_DELIVERED]!,
      ),
      load: loadavg()[0]!,
    }
  }

  return {
    backend,
    get streams() {
      return total()
    },
    failures,
    acking: (on) => {
      for (const w of wallets) w.send({ type: 'acking', on })
    },
    grow: async (target) => {
      const adding = target - total()
      if (adding <= 0) return
      await Promise.all(
        wallets.map(async (w, k) => {
          const share = Math.floor(adding / wallets.length) + (k < adding % wallets.length ? 1 : 0)
          if (share === 0) return
          const opened = w.next('opened', OPEN_TIMEOUT_MS + 30_000)
          w.send({
            type: 'open',
            url: backend.url,
            token,
            topic: TRANSFER_TOPIC,
            count: share,
            timeoutMs: OPEN_TIMEOUT_MS,
          })
          const event = await opened
          perProcess[k]! += event.streams
          for (const [code, n] of Object.entries(event.failures)) failures[code] = (failures[code] ?? 0) + n
        }),
      )
    },
    shrink: async (target) => {
      const removing = total() - target
      if (removing <= 0) return
      await Promise.all(
        wallets.map(async (w, k) => {
          const share = Math.min(
            perProcess[k]!,
            Math.floor(removing / wallets.length) + (k < removing % wallets.length ? 1 : 0),
          )
          const shrunk = w.next('shrunk', 30_000)
          w.send({ type: 'shrink', count: share })
          perProcess[k] = (await shrunk).streams
        }),
      )
    },
    sendOneByOne: async (transfers, waitMs) => {
      const [from, to] = await anvil.accounts()
      const amounts: number[] = []
      const before = await readBackend()
      const started = wallClock()
      for (let i = 0; i < transfers; i++) {
        const amount = nextAmount++
        amounts.push(amount)
        sentAt.set(amount, wallClock())
        await sendTransfer(anvil, token, from!, to!, BigInt(amount))
        await allReceived([amount], waitMs)
      }
      return collect(amounts, started, before)
    },
    mineBlocks: async ({ blocks, perBlock, intervalMs, waitMs }) => {
      const senders = await anvil.accounts()
      const amounts: number[] = []
      const before = await readBackend()
      const started = wallClock()
      await anvil.rpc('evm_setAutomine', [false])
      try {
        for (let b = 0; b < blocks; b++) {
          const due = started + b * intervalMs
          // The block's rhythm is a schedule, not a condition to await.
          if (due > wallClock()) await new Promise((resolve) => setTimeout(resolve, due - wallClock()))
          const block = Array.from({ length: perBlock }, () => nextAmount++)
          // Each sender's transactions one after another (their nonces), the senders side by side.
          await Promise.all(
            senders.map(async (from, k) => {
              for (let i = k; i < block.length; i += senders.length)
                await anvil.rpc('eth_sendTransaction', [
                  { from, to: token, data: transferCalldata(senders[0]!, BigInt(block[i]!)) },
                ])
            }),
          )
          const at = wallClock()
          for (const amount of block) sentAt.set(amount, at)
          amounts.push(...block)
          await anvil.rpc('evm_mine')
        }
      } finally {
        await anvil.rpc('evm_setAutomine', [true])
      }
      await allReceived(amounts, waitMs)
      return collect(amounts, started, before)
    },
    stop: cleanUp,
  }
}
