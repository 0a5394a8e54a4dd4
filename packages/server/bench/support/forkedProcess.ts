import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { onExit } from './onExit.js'

/** A module of the benchmarks run in a child process of its own, driven by IPC messages. */
export type ForkedProcess<Event extends { type: string }, Request extends { type: string }> = {
  readonly child: ChildProcess
  send(message: Request): void
  /** The next message of `type`; rejects after `timeoutMs` or when the process exits first. */
  next<T extends Event['type']>(type: T, timeoutMs: number): Promise<Extract<Event, { type: T }>>
  /** Every message of `type`, as it comes. */
  on<T extends Event['type']>(type: T, listener: (event: Extract<Event, { type: T }>) => void): void
  /** Asks it to close, and kills it if it has not exited within a few seconds. */
  stop(): Promise<void>
}

/** Forks `module` (TypeScript, a URL beside the caller) with the sources' loader. */
export function forkedProcess<Event extends { type: string }, Request extends { type: string }>(
  module: URL,
): ForkedProcess<Event, Request> {
  const child = fork(fileURLToPath(module), {
    execArgv: ['--conditions=source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  child.once(
    'exit',
    onExit(() => child.kill('SIGKILL')),
  )
  const listeners = new Map<string, Set<(event: Event) => void>>()
  child.on('message', (event: Event) => {
    for (const listener of listeners.get(event.type) ?? []) listener(event)
  })
  const on = (type: string, listener: (event: Event) => void) => {
    const set = listeners.get(type) ?? new Set()
    listeners.set(type, set)
    set.add(listener)
    return () => set.delete(listener)
  }
  const exited = () => child.exitCode !== null || child.signalCode !== null
  return {
    child,
    send: (message) => {
      if (child.connected) child.send(message)
    },
    next: (type, timeoutMs) =>
      new Promise((resolve, reject) => {
        const done = () => {
          clearTimeout(timer)
          off()
          child.off('exit', gone)
        }
        const gone = () => {
          done()
          reject(new Error(`child process exited before its ${type}`))
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`child process: no ${type} within ${timeoutMs} ms`))
        }, timeoutMs)
        const off = on(type, (event) => {
          done()
          resolve(event as never)
        })
        if (exited()) gone()
        else child.once('exit', gone)
      }),
    on: (type, listener) => void on(type, listener as (event: Event) => void),
    stop: async () => {
      if (exited()) return
      const exit = new Promise((resolve) => child.once('exit', resolve))
      if (child.connected) child.send({ type: 'close' })
      else child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exit
      clearTimeout(killer)
    },
  }
}
