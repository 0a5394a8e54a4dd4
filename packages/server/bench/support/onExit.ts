const actions = new Set<() => void>()
let installed = false

/**
 * Runs `action` (synchronous: killing a process) when this process exits, also on SIGINT or
 * SIGTERM, so that a benchmark that ends without its cleanup leaves no processes behind; the
 * returned function cancels it.
 */
export function onExit(action: () => void): () => void {
  actions.add(action)
  if (!installed) {
    installed = true
    process.on('exit', () => {
      for (const run of actions) run()
    })
    // Node's default for these signals ends the process without its 'exit' event.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))
  }
  return () => actions.delete(action)
}
