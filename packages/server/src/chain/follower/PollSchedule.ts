export type PollScheduleOptions = {
  /** The slowest poll: no wait is ever longer, and a chain with no rhythm is polled this often. */
  idleMs: number
  /** The longest step while a block is due (shorter on chains with faster blocks). */
  maxStepMs?: number
  /** Block intervals remembered; their median is the expected interval. */
  samples?: number
}

const DEFAULT_MAX_STEP_MS = 100
const DEFAULT_SAMPLES = 9

/**
 * When to ask an HTTP-only node for its head next. It learns the block interval from when new
 * heads were seen, sleeps until shortly before the next block is due, then polls in short steps;
 * when the block is late the steps grow with the delay, up to the idle bound — a chain that
 * stopped, or one that mines only on demand, is polled no more often than the idle bound.
 *
 * Pure: the caller passes the time (milliseconds, any monotonic clock) of each head poll.
 */
export class PollSchedule {
  readonly #idleMs: number
  readonly #maxStepMs: number
  readonly #size: number
  readonly #intervals: number[] = []
  #head: number | undefined
  /** When the current head most likely appeared on the node. */
  #arrivedAt: number | undefined
  #lastPollAt: number | undefined

  constructor(options: PollScheduleOptions) {
    this.#idleMs = options.idleMs
    this.#maxStepMs = Math.min(options.maxStepMs ?? DEFAULT_MAX_STEP_MS, options.idleMs)
    this.#size = options.samples ?? DEFAULT_SAMPLES
  }

  /** The learned block interval, once two new heads have been seen. */
  get intervalMs(): number | undefined {
    if (this.#intervals.length === 0) return undefined
    const sorted = [...this.#intervals].sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)]
  }

  /** Records a head poll started at `at` that found the node at block `head`. */
  observe(head: number, at: number): void {
    const previousPoll = this.#lastPollAt
    this.#lastPollAt = at
    if (head === this.#head) return
    // The head appeared between the previous poll and this one. After a short gap its middle errs
    // by half a step at most. After a long one (the first poll after a sleep already found it) it
    // is taken to be a step early: the next wake moves earlier until it precedes the block.
    const gap = previousPoll === undefined ? 0 : at - previousPoll
    const arrivedAt = at - Math.min(gap, 2 * this.#step()) / 2
    if (this.#head !== undefined && this.#arrivedAt !== undefined && head > this.#head) {
      // Several blocks at once (a catch-up, a burst) are one sample, so that a burst cannot
      // outvote the chain's rhythm in the median.
      this.#intervals.push((arrivedAt - this.#arrivedAt) / (head - this.#head))
      if (this.#intervals.length > this.#size) this.#intervals.shift()
    }
    // A head that went back (a reorg to a shorter chain, a lagging endpoint) restarts the phase.
    this.#head = head
    this.#arrivedAt = arrivedAt
  }

  /** How long to wait, from `now`, before the next head poll. */
  delayMs(now: number): number {
    const interval = this.intervalMs
    if (interval === undefined || this.#arrivedAt === undefined) return this.#idleMs
    const due = this.#arrivedAt + interval
    if (now < due) return Math.ceil(Math.min(this.#idleMs, due - now))
    // Late: wait half of how late the block already is, so that polls thin out geometrically.
    return Math.round(Math.min(this.#idleMs, Math.max(this.#step(), (now - due) / 2)))
  }

  /**
   * The poll step while a block is due: a tenth of the interval at most, so that a chain with
   * 250 ms blocks is not polled every 100 ms for a block 20 ms late.
   */
  #step(): number {
    const interval = this.intervalMs
    return interval === undefined ? this.#maxStepMs : Math.max(1, Math.min(this.#maxStepMs, interval / 10))
  }
}
