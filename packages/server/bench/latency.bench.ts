import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { type Phase, type StreamingRig, startStreamingRig } from './support/streamingRig.js'

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const tenths = (value: number) => Math.round(value * 10) / 10

/** Delivery p99 a load must keep to count as sustained. */
const SUSTAINED_P99_MS = 250
/** How long a transfer's items may take to reach every stream before the run goes on without them. */
const ITEM_WAIT_MS = 30_000

type Figures = Record<string, number | string>

/** `<prefix><Figure>With<what>`, camel-cased. */
const figureKey = (prefix: string, figure: string, what: string) =>
  `${prefix}${prefix ? figure[0]!.toUpperCase() + figure.slice(1) : figure}With${what}`

/** The figures of one phase. */
function phaseFigures(prefix: string, what: string, phase: Phase, streams: number): Figures {
  const key = (figure: string) => figureKey(prefix, figure, what)
  return {
    [key('p50Ms')]: tenths(percentile(phase.latencies, 50)),
    [key('p99Ms')]: tenths(percentile(phase.latencies, 99)),
    [key('maxMs')]: tenths(Math.max(...phase.latencies)),
    // What the last stream waits beyond the first is the fan-out: sending and receiving every frame.
    [key('firstItemP50Ms')]: tenths(percentile(phase.firsts, 50)),
    [key('streamsOpen')]: streams,
    [key('items')]: phase.received,
    [key('itemsExpected')]: phase.expected,
    [key('backendCpuMsPerItem')]:
      phase.received > 0 ? Math.round((phase.backendCpuMs / phase.received) * 1000) / 1000 : 0,
    [key('backendBatchMeanMs')]: tenths(phase.batchMs),
    [key('backendQueuedToDeliveredMeanMs')]: tenths(phase.queuedToDeliveredMs),
    [key('loadAverage')]: tenths(phase.load),
  }
}

/**
 * Live latency: from sending a transfer to anvil (which mines it at once) to each streaming
 * wallet's SDK handing over its item. The backend is a process of its own following anvil over
 * WebSocket; the wallets stream from child processes and time what they receive on the wall clock.
 * One transfer at a time, each awaited by every stream, after one that warms up and is not counted.
 */
export async function runLatencyBench(options: {
  quick: boolean
  databaseUrl?: string
  /** One driver only (run alone); both when a database URL is given, else PGlite. */
  driver?: 'pglite' | 'postgres'
  /** Stream counts instead of the mode's (run alone). */
  streams?: number[]
  /** The leader's ceiling on PostgreSQL: in full mode, or alone when 'only'. */
  ceiling?: boolean | 'only'
  /** Where the backend writes a CPU profile of each run (`node --cpu-prof`). */
  cpuProfileDir?: string
}): Promise<Figures> {
  const figures: Figures = {}
  const counts = options.streams ?? (options.quick ? [100, 1_000] : [1_000, 10_000])
  const transfers = options.quick ? 10 : 20
  const drivers = options.driver
    ? [options.driver]
    : options.databaseUrl
      ? (['pglite', 'postgres'] as const)
      : (['pglite'] as const)
  const ceiling = (options.ceiling ?? !options.quick) && options.databaseUrl !== undefined
  if (options.ceiling !== 'only')
    for (const driver of drivers) {
      const prefix = driver === 'pglite' ? '' : 'postgres'
      await withRig(
        {
          maxStreams: Math.max(...counts),
          ...(driver === 'postgres' && options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
          ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
        },
        prefix,
        figures,
        async (rig) => {
          for (const count of counts) {
            await rig.grow(count)
            await rig.sendOneByOne(1, ITEM_WAIT_MS)
            const phase = await rig.sendOneByOne(transfers, ITEM_WAIT_MS)
            Object.assign(figures, phaseFigures(prefix, `${count}Streams`, phase, rig.streams))
            figures[figureKey(prefix, 'backendRssMiB', `${count}Streams`)] = Math.round(
              rig.backend.rssBytes() / 2 ** 20,
            )
            console.error(
              `latency: ${driver}, ${rig.streams} streams: p99 ${tenths(percentile(phase.latencies, 99))} ms, ${phase.received} of ${phase.expected} items, load ${tenths(phase.load)}`,
            )
          }
        },
      )
    }
  if (ceiling)
    await withRig(
      {
        maxStreams: 10_000,
        databaseUrl: options.databaseUrl!,
        ...(options.cpuProfileDir ? { cpuProfileDir: options.cpuProfileDir } : {}),
      },
      'ceiling',
      figures,
      (rig) => leaderCeiling(rig, figures),
    )
  return figures
}

/** Runs `measure` on a rig and stops it whatever happens; a run that fails says where, beside what it measured. */
async function withRig(
  rigOptions: Parameters<typeof startStreamingRig>[0],
  prefix: string,
  figures: Figures,
  measure: (rig: StreamingRig) => Promise<void>,
): Promise<void> {
  let rig: StreamingRig | undefined
  try {
    rig = await startStreamingRig(rigOptions)
    await measure(rig)
  } catch (error) {
    figures[`${prefix || 'pglite'}StoppedBy`] = (error as Error).message.slice(0, 200)
    console.error(`latency: ${prefix || 'pglite'} stopped:`, error)
  } finally {
    const failures = Object.entries(rig?.failures ?? {})
    if (failures.length > 0)
      figures[`${prefix || 'pglite'}WalletFailures`] = JSON.stringify(Object.fromEntries(failures))
    await rig?.stop()
  }
}

/**
 * What one leader sustains on PostgreSQL, with the wallets not acknowledging (delivery alone) and
 * acknowledging every item, as wallets do (an ack is a transaction per stream and item): streams
 * grow (1k, 3k, 10k) at one transfer per block, a block a second, while either way keeps delivery
 * p99 within 250 ms; then, at the largest count that did (at least 1,000), the transfers per block
 * grow until that way no longer does.
 */
async function leaderCeiling(rig: StreamingRig, figures: Figures): Promise<void> {
  const ways = [
    { ack: false, prefix: 'ceiling', sustained: 0, going: true },
    { ack: true, prefix: 'ceilingAcked', sustained: 0, going: true },
  ]
  const phase = async (way: (typeof ways)[number], perBlock: number, what: string) => {
    rig.acking(way.ack)
    // One block first, not counted: the wallets' acking changes with the way.
    await rig.mineBlocks({ blocks: 1, perBlock, intervalMs: 1_000, waitMs: ITEM_WAIT_MS })
    const measured = await rig.mineBlocks({ blocks: 10, perBlock, intervalMs: 1_000, waitMs: ITEM_WAIT_MS })
    Object.assign(figures, phaseFigures(way.prefix, what, measured, rig.streams))
    console.error(
      `latency: ${way.prefix} ${rig.streams} streams, ${perBlock} per block: p99 ${tenths(percentile(measured.latencies, 99))} ms, ${measured.received} of ${measured.expected} items, load ${tenths(measured.load)}`,
    )
    return measured
  }
  for (const count of [1_000, 3_000, 10_000]) {
    if (!ways.some((way) => way.going)) break
    await rig.grow(count)
    for (const way of ways.filter((w) => w.going)) {
      if (meets(await phase(way, 1, `${count}Streams`))) way.sustained = rig.streams
      else way.going = false
    }
  }
  for (const way of ways) {
    figures[`${way.prefix}Streams`] = way.sustained
    const streams = Math.max(1_000, way.sustained)
    await rig.shrink(streams)
    let itemsPerSecond = 0
    for (const perBlock of [2, 5, 10, 20, 50]) {
      const measured = await phase(way, perBlock, `${streams}StreamsAnd${perBlock}PerBlock`)
      if (!meets(measured)) break
      itemsPerSecond = Math.round(measured.received / measured.seconds)
    }
    figures[`${way.prefix}ItemsPerSecond`] = itemsPerSecond
    figures[`${way.prefix}ItemsPerSecondAtStreams`] = streams
  }
}

const meets = (phase: Phase) =>
  phase.received === phase.expected && percentile(phase.latencies, 99) <= SUSTAINED_P99_MS

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      streams: { type: 'string' },
      driver: { type: 'string' },
      ceiling: { type: 'boolean', default: false },
      'database-url': { type: 'string' },
      'cpu-prof-dir': { type: 'string' },
    },
  })
  const databaseUrl = values['database-url'] ?? process.env.TEST_DATABASE_URL
  console.error(`latency: load average at start ${loadavg().map(tenths).join(' ')}`)
  console.log(
    await runLatencyBench({
      quick: !values.full,
      ...(values.streams ? { streams: values.streams.split(',').map(Number) } : {}),
      ...(values.driver === 'pglite' || values.driver === 'postgres' ? { driver: values.driver } : {}),
      ...(values.ceiling ? { ceiling: 'only' as const } : {}),
      ...(databaseUrl ? { databaseUrl } : {}),
      ...(values['cpu-prof-dir'] ? { cpuProfileDir: values['cpu-prof-dir'] } : {}),
    }),
  )
  console.error(`latency: load average at end ${loadavg().map(tenths).join(' ')}`)
  // A scratch database left behind (its drop still waiting) must not keep the run alive.
  process.exit(0)
}
