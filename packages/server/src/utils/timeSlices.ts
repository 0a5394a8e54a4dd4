/**
 * For a loop of client-driven work on the event loop: the returned function yields to other
 * callbacks once `sliceMs` have passed since the last yield, and costs a clock read otherwise.
 */
export function timeSlices(sliceMs = 10): () => Promise<void> {
  let since = performance.now()
  return async () => {
    if (performance.now() - since < sliceMs) return
    await new Promise((resolve) => setImmediate(resolve))
    since = performance.now()
  }
}
