/**
 * Runs tasks one after another. Everything that changes the chain (traffic, reorgs, node
 * restarts) goes through one lock: anvil's automine switch and nonces are shared state.
 */
export class SerialLock {
  #tail: Promise<unknown> = Promise.resolve()

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task)
    this.#tail = result.catch(() => {})
    return result
  }
}
