import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import type { Logger } from 'pino'
import { BaseError } from '../../errors/BaseError.js'
import { anvilFiles } from './anvilFiles.js'
import { findAnvilBinary } from './findAnvilBinary.js'
import { freePort } from './freePort.js'
import { reapOrphanAnvil } from './reapOrphanAnvil.js'
import { recoverAnvilState } from './recoverAnvilState.js'
import { writeFileAtomic } from './writeFileAtomic.js'

export { freePort } from './freePort.js'

export type SpawnAnvilOptions = {
  /** Directory of the chain's state; the chain continues from it at the next spawn. */
  dataDir: string
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string
  /** Port to listen on; a free port when omitted. */
  port?: number
  chainId?: number
  /** Seconds between blocks; 0 or undefined mines a block per transaction. */
  blockTimeSeconds?: number
  /**
   * How often the state is saved while anvil runs, in seconds (default 5; 0 saves only on stop).
   * A crash loses at most the blocks of this last interval.
   */
  stateIntervalSeconds?: number
  /**
   * Also keep the account state of past blocks across restarts, so that `eth_getBalance`,
   * `eth_getProof` and `anvil_reorg` work on blocks from before the restart. The state file then
   * grows by a full state per block (about 80 kB per block with anvil's default accounts).
   */
  preserveHistoricalStates?: boolean
  /** Print anvil's banner and per-call log lines (to `logger` at debug). Off by default: they cost time. */
  verbose?: boolean
  extraArgs?: string[]
  logger?: Logger
  /** How long anvil may take to answer `eth_chainId`. Default 15 s. */
  startTimeoutMs?: number
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 10 s. */
  stopTimeoutMs?: number
}

export type SpawnedAnvil = {
  httpUrl: string
  wsUrl: string
  host: string
  port: number
  pid: number
  dataDir: string
  /** The state file the next spawn loads. */
  stateFile: string
  /** Resolves with anvil's exit code (null when a signal ended it). */
  exited: Promise<number | null>
  /**
   * Saves the state (atomically), as the periodic save does; resolves once a save that began after
   * the call is written, so it holds every block mined before it.
   */
  saveState(): Promise<void>
  /**
   * Stops anvil: SIGTERM (anvil writes its state on the way out, which becomes the state file),
   * then SIGKILL if it has not exited in time. Safe to call more than once.
   */
  stop(): Promise<void>
  /** SIGKILL, as in a crash: the last saved state survives, later blocks are lost. */
  kill(): Promise<void>
}

/** anvil did not start: it exited, could not be executed, or did not answer in time. */
export class AnvilStartError extends BaseError {
  override readonly name = 'AnvilStartError'
  /** The end of what anvil printed, which usually says why. */
  readonly output: string

  constructor(message: string, output: string) {
    const tail = output.trim().split('\n').slice(-10).join('\n')
    super('ANVIL_START_FAILED', tail ? `${message}; anvil said:\n${tail}` : message, { status: 503 })
    this.output = tail
  }
}

const children = new Set<ChildProcess>()
let exitHookInstalled = false

/**
 * An embedded node must not outlive the backend. On a normal exit it gets SIGTERM (so it saves its
 * state); where the kernel can do it (Linux, through `setpriv --pdeathsig`), anvil also gets
 * SIGTERM when the backend dies by SIGKILL. What still escapes is stopped by the next spawn on
 * the same data directory (see `reapOrphanAnvil`).
 */
function stopChildrenOnExit(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of children) child.kill('SIGTERM')
  })
}

let pdeathsig: string[] | undefined

/** The `setpriv` prefix that ties anvil's life to ours, where setpriv exists and supports it. */
function deathSignalPrefix(): string[] {
  if (pdeathsig) return pdeathsig
  pdeathsig = []
  if (process.platform !== 'linux') return pdeathsig
  for (const setpriv of ['/usr/bin/setpriv', '/bin/setpriv']) {
    if (!existsSync(setpriv)) continue
    try {
      execFileSync(setpriv, ['--pdeathsig', 'SIGTERM', '--', 'true'], { stdio: 'ignore', timeout: 2_000 })
      pdeathsig = [setpriv, '--pdeathsig', 'SIGTERM', '--']
    } catch {}
    break
  }
  return pdeathsig
}

/** The last `limit` characters of a stream, for error messages. */
function tail(limit: number): { push(chunk: Buffer): void; text(): string } {
  let text = ''
  return {
    push(chunk) {
      text = (text + chunk.toString()).slice(-limit)
    },
    text: () => text,
  }
}

async function answersChainId(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1_000),
    })
    return response.ok && typeof ((await response.json()) as { result?: unknown }).result === 'string'
  } catch {
    return false
  }
}

/**
 * Starts anvil from the npm package `@foundry-rs/anvil`, continuing the chain stored in `dataDir`,
 * and resolves once it answers `eth_chainId`.
 *
 * The chain is kept in `<dataDir>/state.json`, which the backend replaces atomically: every
 * `stateIntervalSeconds` from `anvil_dumpState`, and after a stop from the dump anvil writes on
 * exit (`state.exit.json`, taken over only if whole). Blocks, transactions, receipts and logs
 * survive a restart with the same hashes; so do balances, nonces, code and storage at the head.
 * Pending transactions do not, nor — unless `preserveHistoricalStates` — the state at earlier
 * blocks.
 */
export async function spawnAnvil(options: SpawnAnvilOptions): Promise<SpawnedAnvil> {
  const dataDir = resolve(options.dataDir)
  const host = options.host ?? '127.0.0.1'
  const log = options.logger?.child({ component: 'anvil' })
  const files = anvilFiles(dataDir)
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  await reapOrphanAnvil(files.pid, files.exitDump, { logger: log })
  const loadFrom = await recoverAnvilState(files, log)
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePort(host))
    try {
      return await launch({ ...options, dataDir, host, port }, loadFrom, log)
    } catch (error) {
      // The free port was taken between our check and anvil's bind: take another.
      const raced = error instanceof AnvilStartError && /address already in use/i.test(error.output)
      if (options.port !== undefined || !raced || attempt >= 3) throw error
    }
  }
}

async function launch(
  options: SpawnAnvilOptions & { dataDir: string; host: string; port: number },
  loadFrom: string | undefined,
  log: Logger | undefined,
): Promise<SpawnedAnvil> {
  const { dataDir, host, port } = options
  const files = anvilFiles(dataDir)
  const executable = findAnvilBinary()
  const args = [
    ...executable.args,
    '--host',
    host,
    '--port',
    String(port),
    ...(loadFrom ? ['--load-state', loadFrom] : []),
    '--dump-state',
    files.exitDump,
    ...(options.preserveHistoricalStates ? ['--preserve-historical-states'] : []),
    ...(options.verbose ? [] : ['--silent']),
    ...(options.chainId !== undefined ? ['--chain-id', String(options.chainId)] : []),
    ...(options.blockTimeSeconds ? ['--block-time', String(options.blockTimeSeconds)] : []),
    ...(options.extraArgs ?? []),
  ]
  const [command, ...prefix] = [...deathSignalPrefix(), executable.command]
  const started = performance.now()
  const child = spawn(command!, [...prefix, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(executable.wrapped ? { env: { ...process.env, TARGET_TOOL: 'anvil' } } : {}),
  })
  children.add(child)
  stopChildrenOnExit()
  const output = tail(4_000)
  child.stderr?.on('data', (chunk: Buffer) => {
    output.push(chunk)
    log?.warn({ anvil: chunk.toString().trim() }, 'anvil stderr')
  })
  child.stdout?.on('data', (chunk: Buffer) => {
    output.push(chunk)
    if (options.verbose) log?.debug({ anvil: chunk.toString().trim() }, 'anvil')
  })
  let spawnError: Error | undefined
  child.once('error', (error) => {
    spawnError = error
  })
  let stopping = false
  let ready = false
  let saveTimer: NodeJS.Timeout | undefined
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code, signal) => {
      children.delete(child)
      clearInterval(saveTimer)
      if (!stopping && ready) {
        // Ctrl-C or a supervisor's stop reaches the whole process group, so anvil may exit on that
        // signal before the backend, stopping for the same one, stops it: asked to, not a crash.
        if (code === 0 || signal === 'SIGINT' || signal === 'SIGTERM')
          log?.info({ code, signal }, 'anvil stopped by a signal of its own')
        else log?.error({ code, signal, output: output.text().slice(-500) }, 'anvil exited')
      }
      resolveExit(code)
    })
  })
  if (child.pid !== undefined) {
    writeFileSync(
      files.pid,
      `${JSON.stringify({ pid: child.pid, port, startedAt: new Date().toISOString() })}\n`,
      { mode: 0o600 },
    )
  }

  const httpUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000)
  try {
    for (;;) {
      if (spawnError)
        throw new AnvilStartError(`anvil could not be started: ${spawnError.message}`, output.text())
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new AnvilStartError(
          `anvil exited at start (${child.exitCode ?? child.signalCode})`,
          output.text(),
        )
      }
      // A port held by something that accepts and never answers must not outlast anvil's exit.
      if (await Promise.race([answersChainId(httpUrl), exited.then(() => false)])) break
      if (Date.now() > deadline) {
        throw new AnvilStartError(
          `anvil did not answer on ${httpUrl} within ${options.startTimeoutMs ?? 15_000} ms`,
          output.text(),
        )
      }
      await new Promise((wake) => setTimeout(wake, 25))
    }
  } catch (error) {
    stopping = true
    child.kill('SIGKILL')
    await exited
    rmSync(files.pid, { force: true })
    throw error
  }
  ready = true
  log?.info(
    { url: httpUrl, pid: child.pid, ms: Math.round(performance.now() - started), loaded: Boolean(loadFrom) },
    'anvil started',
  )

  let saving: Promise<void> | undefined
  // A save asked for while one is in flight: that one may have dumped before the caller's latest
  // blocks, so the caller waits for the next, which every caller in the meantime shares.
  let next: Promise<void> | undefined
  const dump = (): Promise<void> =>
    (async () => {
      const response = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'anvil_dumpState',
          params: [Boolean(options.preserveHistoricalStates)],
        }),
        signal: AbortSignal.timeout(60_000),
      })
      const body = (await response.json()) as { result?: string; error?: { message: string } }
      if (typeof body.result !== 'string')
        throw new Error(`anvil_dumpState: ${body.error?.message ?? 'no state'}`)
      const bytes = Buffer.from(body.result.slice(2), 'hex')
      // anvil gzips the dump; its --load-state reads plain JSON.
      const json = bytes[0] === 0x1f && bytes[1] === 0x8b ? await promisify(gunzip)(bytes) : bytes
      await writeFileAtomic(files.state, json)
    })()
  const saveState = (): Promise<void> => {
    if (saving) {
      next ??= saving
        .catch(() => {})
        .then(() => {
          next = undefined
          return saveState()
        })
      return next
    }
    saving = dump().finally(() => {
      saving = undefined
    })
    return saving
  }
  const interval = options.stateIntervalSeconds ?? 5
  if (interval > 0) {
    saveTimer = setInterval(() => {
      saveState().catch((error: unknown) => log?.warn({ err: error }, 'saving the anvil state failed'))
    }, interval * 1000)
    saveTimer.unref()
  }

  const end = async (signal: 'SIGTERM' | 'SIGKILL', graceMs: number): Promise<void> => {
    stopping = true
    clearInterval(saveTimer)
    await (next ?? saving)?.catch(() => {})
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal)
      const escalate = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(escalate)
    }
    rmSync(files.pid, { force: true })
  }
  let stopped: Promise<void> | undefined
  return {
    httpUrl,
    wsUrl: httpUrl.replace(/^http/, 'ws'),
    host,
    port,
    pid: child.pid!,
    dataDir,
    stateFile: files.state,
    exited,
    saveState,
    stop: () => {
      stopped ??= (async () => {
        await end('SIGTERM', options.stopTimeoutMs ?? 10_000)
        // Take over anvil's own exit dump now, if it is whole: it is at least as new as the save.
        await recoverAnvilState(files, log).catch((error: unknown) =>
          log?.error({ err: error }, 'the anvil state could not be checked after stopping'),
        )
      })()
      return stopped
    },
    kill: async () => {
      stopped ??= end('SIGKILL', 0)
      return stopped
    },
  }
}
