import type { Registry } from 'prom-client'

/** One point of the console's charts: rates over the interval before `at`, gauges at `at`. */
export type MetricsSample = {
  at: string
  blocksPerSecond: number
  itemsQueuedPerSecond: number
  itemsDeliveredPerSecond: number
  /** Of the items first delivered in the last few samples' time; null when none were. */
  deliveryLatencyP50Ms: number | null
  deliveryLatencyP99Ms: number | null
  openStreams: number
  throttledPerSecond: number
  /** JSON-RPC calls (a batch counts once) per block stored in the interval; null without blocks. */
  nodeCallsPerBlock: number | null
}

type Totals = {
  at: number
  blocks: number
  queued: number
  delivered: number
  throttled: number
  nodeCalls: number
  streams: number
  /** Cumulative delivery-latency bucket counts, by upper bound in seconds. */
  latency: Map<number, number>
}

const LATENCY_WINDOW = 5

type MetricValue = { value: number; labels: Record<string, string | number>; metricName?: string }

/**
 * Samples the service's own metrics at a fixed interval and keeps the last minutes of them as a
 * time series, so the operator console (or a script) can chart what /metrics only gives as
 * running totals. Reads the registry in memory; nothing is asked of the database or the node.
 */
export class MetricsSampler {
  readonly #samples: MetricsSample[] = []
  readonly #totals: Totals[] = []
  #timer: NodeJS.Timeout | undefined
  #sampling = false

  constructor(private readonly options: { metrics: Registry; intervalMs: number; keep: number }) {}

  get intervalMs(): number {
    return this.options.intervalMs
  }

  start(): void {
    if (this.#timer) return
    void this.sample()
    this.#timer = setInterval(() => void this.sample(), this.options.intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /** The samples of the last `seconds`, oldest first. */
  series(seconds: number): MetricsSample[] {
    const since = Date.now() - seconds * 1000
    return this.#samples.filter((sample) => Date.parse(sample.at) >= since)
  }

  async sample(): Promise<void> {
    if (this.#sampling) return
    this.#sampling = true
    try {
      const totals = await this.#read()
      const previous = this.#totals.at(-1)
      this.#totals.push(totals)
      if (this.#totals.length > LATENCY_WINDOW + 1) this.#totals.shift()
      if (!previous) return
      const seconds = Math.max(0.001, (totals.at - previous.at) / 1000)
      const rate = (key: 'blocks' | 'queued' | 'delivered' | 'throttled') =>
        round(Math.max(0, totals[key] - previous[key]) / seconds)
      const blocks = totals.blocks - previous.blocks
      const oldest = this.#totals[0]!
      this.#samples.push({
        at: new Date(totals.at).toISOString(),
        blocksPerSecond: rate('blocks'),
        itemsQueuedPerSecond: rate('queued'),
        itemsDeliveredPerSecond: rate('delivered'),
        deliveryLatencyP50Ms: quantileMs(oldest.latency, totals.latency, 0.5),
        deliveryLatencyP99Ms: quantileMs(oldest.latency, totals.latency, 0.99),
        openStreams: totals.streams,
        throttledPerSecond: rate('throttled'),
        nodeCallsPerBlock: blocks > 0 ? round((totals.nodeCalls - previous.nodeCalls) / blocks) : null,
      })
      if (this.#samples.length > this.options.keep) this.#samples.shift()
    } finally {
      this.#sampling = false
    }
  }

  async #read(): Promise<Totals> {
    const values = async (name: string): Promise<MetricValue[]> => {
      const metric = this.options.metrics.getSingleMetric(name)
      if (!metric) return []
      return ((await metric.get()) as { values: MetricValue[] }).values
    }
    const sum = (list: MetricValue[]) => list.reduce((total, entry) => total + entry.value, 0)
    const latency = new Map<number, number>()
    for (const entry of await values('wallet_backend_delivery_latency_seconds')) {
      if (!entry.metricName?.endsWith('_bucket')) continue
      const le = entry.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(entry.labels.le)
      latency.set(le, (latency.get(le) ?? 0) + entry.value)
    }
    return {
      at: Date.now(),
      blocks: sum(await values('wallet_backend_chain_blocks_total')),
      queued: sum(await values('wallet_backend_delivery_items_queued_total')),
      delivered: sum(await values('wallet_backend_delivery_items_delivered_total')),
      throttled: sum(await values('wallet_backend_throttled_total')),
      nodeCalls: sum(await values('wallet_backend_node_requests_total')),
      streams: sum(await values('wallet_backend_streams')),
      latency,
    }
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100
}

/**
 * The quantile of the latencies observed between two cumulative bucket snapshots, interpolated
 * within its bucket as Prometheus' histogram_quantile does; the largest finite bound stands for
 * the overflow bucket.
 */
export function quantileMs(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  q: number,
): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b)
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0))
  const total = counts.at(-1) ?? 0
  if (total <= 0) return null
  const rank = q * total
  let lower = 0
  let below = 0
  for (let i = 0; i < bounds.length; i++) {
    const upper = bounds[i]!
    const count = counts[i]!
    if (count >= rank) {
      if (!Number.isFinite(upper)) return round(lower * 1000)
      const share = count === below ? 1 : (rank - below) / (count - below)
      return round((lower + (upper - lower) * share) * 1000)
    }
    lower = upper
    below = count
  }
  return round(lower * 1000)
}
