/**
 * Runs `attempt` until it succeeds, waiting with exponential backoff (capped) between failures,
 * and reporting each failure. Rejects only when `signal` aborts or `isFatal` says a failure will
 * not heal by waiting.
 */
export async function retryUntil<T>(
  attempt: () => Promise<T>,
  options: {
    signal: AbortSignal
    onFailure: (error: unknown, retryInMs: number) => void
    isFatal?: (error: unknown) => boolean
    initialDelayMs?: number
    maxDelayMs?: number
  },
): Promise<T> {
  let delay = options.initialDelayMs ?? 250
  for (;;) {
    options.signal.throwIfAborted()
    try {
      return await attempt()
    } catch (error) {
      if (options.isFatal?.(error)) throw error
      options.signal.throwIfAborted()
      options.onFailure(error, delay)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay)
        options.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          resolve()
        })
      })
      delay = Math.min(delay * 2, options.maxDelayMs ?? 10_000)
    }
  }
}
