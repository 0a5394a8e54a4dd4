/**
 * A small seeded generator (mulberry32): the soak's decisions replay from the printed seed. Timing
 * between processes does not replay; what is decided (which event, which depth, which client) does.
 */
export class Random {
  #state: number

  constructor(seed: number) {
    this.#state = seed >>> 0
  }

  /** A uniform number in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  chance(probability: number): boolean {
    return this.next() < probability
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list')
    return items[Math.floor(this.next() * items.length)]!
  }

  /** An exponentially distributed delay with the given mean: events at a steady random rate. */
  delayMs(meanMs: number): number {
    return Math.round(-Math.log(1 - this.next()) * meanMs)
  }

  /** An independent generator for one part of the run, so parts do not shift each other's draws. */
  fork(label: string): Random {
    let hash = this.#state
    for (const char of label) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0
    return new Random(hash)
  }
}
