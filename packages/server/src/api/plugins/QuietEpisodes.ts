/**
 * Tells when a repeated event starts a new episode: the first time, and again once it has not
 * happened for `quietMs`. For logging a flood once instead of once per request.
 */
export class QuietEpisodes {
  #last = Number.NEGATIVE_INFINITY

  constructor(
    private readonly quietMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records the event; true when it starts an episode. */
  starts(): boolean {
    const now = this.now()
    const fresh = now - this.#last > this.quietMs
    this.#last = now
    return fresh
  }
}
