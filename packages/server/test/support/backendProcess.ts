import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { waitUntil } from './waitUntil.js'

/**
 * The CLI run from its TypeScript sources (and the other packages' through their `source` export
 * condition), so that tests need no build; `compiled` runs bin/, which runs the build in dist/.
 */
function cliCommand(compiled: boolean): string[] {
  if (compiled) return [fileURLToPath(new URL('../../bin/wallet-backend.mjs', import.meta.url))]
  const tsx = createRequire(import.meta.url).resolve('tsx')
  const entry = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url))
  return ['--conditions=source', '--import', tsx, entry]
}

export type BackendProcessOptions = {
  dataDir: string
  port: number
  /** The node to follow; the embedded anvil in the data directory when omitted. */
  nodeUrl?: string
  /** More CLI flags, appended after the ones this helper sets. */
  flags?: string[]
  /** Where the backend's stdout and stderr go (appended), or 'stderr' for this process's stderr; discarded when omitted. */
  logFile?: string | 'stderr'
  /** How long `start()` waits for `/ready`: a bound for a loaded machine, not an expectation. Default 90 s. */
  readyTimeoutMs?: number
  /** Run the compiled CLI (bin/ and dist/, needs `npm run build`) instead of the sources. */
  compiled?: boolean
  /** Options of Node itself (e.g. `--cpu-prof`), which NODE_OPTIONS does not all take. */
  nodeArgs?: string[]
}

export type BackendProcess = {
  readonly url: string
  readonly running: boolean
  /** The running process's id. */
  readonly pid: number | undefined
  /** Exits that nobody asked for (not through `kill`/`stop`), with their code or signal. */
  readonly unexpectedExits: string[]
  /** Spawns the CLI and resolves once `/ready` answers 200 (the backend is live). */
  start(): Promise<void>
  /** SIGKILL, as in a crash. */
  kill(): Promise<void>
  /** SIGTERM: the backend drains and exits. */
  stop(): Promise<void>
}

/**
 * The backend as a separate process running the `wallet-backend start` CLI, so that it can be
 * killed with SIGKILL at any moment and started again on the same data directory and port.
 */
export function backendProcess(options: BackendProcessOptions): BackendProcess {
  const url = `http://127.0.0.1:${options.port}`
  let child: ChildProcess | undefined
  const unexpectedExits: string[] = []
  const ready = async () => {
    const response = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) }).catch(
      () => undefined,
    )
    return response?.status === 200
  }
  const end = async (signal: NodeJS.Signals) => {
    const running = child
    if (!running || running.exitCode !== null || running.signalCode !== null) return
    // An exit asked for is not an unexpected one.
    running.removeAllListeners('exit')
    const exited = new Promise((resolve) => running.once('exit', resolve))
    running.kill(signal)
    await exited
  }
  return {
    url,
    get pid() {
      return child?.pid
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    unexpectedExits,
    start: async () => {
      // A second process on the same port would fail to listen while the first one lost its handle.
      if (child && child.exitCode === null && child.signalCode === null)
        throw new Error('the backend is already running; kill or stop it first')
      const log = options.logFile && options.logFile !== 'stderr' ? openSync(options.logFile, 'a') : undefined
      const output = options.logFile === 'stderr' ? 'inherit' : (log ?? 'ignore')
      const spawned = spawn(
        process.execPath,
        [
          ...(options.nodeArgs ?? []),
          ...cliCommand(options.compiled ?? false),
          'start',
          '--data-dir',
          options.dataDir,
          '--port',
          String(options.port),
          ...(options.nodeUrl !== undefined ? ['--node-url', options.nodeUrl] : []),
          ...(options.flags ?? []),
        ],
        { stdio: ['ignore', options.logFile === 'stderr' ? 'ignore' : output, output] },
      )
      if (log !== undefined) closeSync(log)
      child = spawned
      spawned.once('exit', (code, signal) => unexpectedExits.push(`${signal ?? `exit ${code}`}`))
      try {
        await waitUntil(
          async () => {
            if (spawned.exitCode !== null || spawned.signalCode !== null)
              throw new Error(`the backend exited at start (${spawned.signalCode ?? spawned.exitCode})`)
            return ready()
          },
          options.readyTimeoutMs ?? 90_000,
          'the backend to be ready',
        )
      } catch (error) {
        // Say where it stands: not serving HTTP at all, or serving and waiting for something.
        const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) })
          .then((response) => response.text())
          .catch(() => 'no answer')
        throw new Error(`${(error as Error).message}; /health: ${health.slice(0, 600)}`)
      }
    },
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  }
}
