/**
 * The registration proof of work, made dearer while registrations pour in: one more bit (twice
 * the work) for each doubling of the registrations seen in the last window beyond a calm rate,
 * and back down as the window moves past the burst. A Sybil attacker pays exponentially more for
 * every identity of a burst; a wallet registering on a calm day pays the base.
 */
export class RegistrationDifficulty {
  #times: number[] = []

  constructor(
    private readonly options: {
      baseBits: number
      calmPerWindow: number
      windowMs: number
      maxExtraBits: number
    },
    private readonly now: () => number = Date.now,
  ) {}

  /** The difficulty to ask of a new client now. */
  current(): number {
    const recent = this.#recent()
    if (this.options.baseBits === 0 || recent <= this.options.calmPerWindow) return this.options.baseBits
    const extra = Math.ceil(Math.log2(recent / this.options.calmPerWindow))
    return this.options.baseBits + Math.min(this.options.maxExtraBits, extra)
  }

  /** Counts a registration that happened. */
  record(): void {
    this.#times.push(this.now())
    this.#recent()
  }

  #recent(): number {
    const horizon = this.now() - this.options.windowMs
    let drop = 0
    while (drop < this.#times.length && this.#times[drop]! < horizon) drop++
    if (drop > 0) this.#times = this.#times.slice(drop)
    return this.#times.length
  }
}
