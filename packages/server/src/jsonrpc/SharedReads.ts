/**
 * Answers identical reads once for every client: a small cache keyed by method, parameters and
 * the stored head's hash (a new head makes every entry of the old one stale), holding the call
 * in flight too, so that a thousand wallets asking the same thing at once cost the node one call.
 * Failures are not kept.
 */
export class SharedReads {
  readonly #entries = new Map<string, Promise<unknown>>()
  #hits = 0
  #misses = 0

  constructor(private readonly capacity = 5_000) {}

  get stats(): { hits: number; misses: number } {
    return { hits: this.#hits, misses: this.#misses }
  }

  read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const found = this.#entries.get(key)
    if (found) {
      this.#hits += 1
      // Most recently used last: eviction takes the oldest first.
      this.#entries.delete(key)
      this.#entries.set(key, found)
      return found as Promise<T>
    }
    this.#misses += 1
    const loading = load()
    this.#entries.set(key, loading)
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value!)
    loading.catch(() => {
      if (this.#entries.get(key) === loading) this.#entries.delete(key)
    })
    return loading
  }
}
