import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { BaseError } from '../../errors/BaseError.js'
import { findAnvilBinary } from './findAnvilBinary.js'

export type SpawnAnvilOptions = {
  /** Directory for anvil's state file; the chain continues from it at the next spawn. */
  dataDir: string
  host?: string
  /** Port to listen on; a free loopback port when omitted. */
  port?: number
  chainId?: number
  /** Seconds between blocks; 0 or undefined mines one block per transaction. */
  blockTimeSeconds?: number
  /** How often anvil writes its state, so that a crash loses at most this much of the chain. */
  stateIntervalSeconds?: number
  extraArgs?: string[]
  logger?: Logger
  startTimeoutMs?: number
}

export type SpawnedAnvil = {
  httpUrl: string
  wsUrl: string
  port: number
  pid: number
  /** SIGTERM (anvil writes its state on the way out), then SIGKILL if it does not exit in time. */
  stop(): Promise<void>
  /** SIGKILL: a crash, for tests; the state written last survives. */
  kill(): Promise<void>
  exited: Promise<number | null>
}

export class AnvilStartError extends BaseError {
  override readonly name = 'AnvilStartError'
  constructor(message: string, stderr: string) {
    super('ANVIL_START_FAILED', `${message}${stderr ? `; anvil said: ${stderr.slice(-500)}` : ''}`, {
      status: 503,
    })
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      )
    })
  })
}

const children = new Set<ChildProcess>()
let exitHookInstalled = false

/** An embedded node must never outlive the backend that spawned it. */
function killChildrenOnExit(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL')
  })
}

/** Spawns anvil from the npm-installed binary and resolves once it answers JSON-RPC. */
export async function spawnAnvil(options: SpawnAnvilOptions): Promise<SpawnedAnvil> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? (await freePort(host))
  mkdirSync(options.dataDir, { recursive: true })
  const args = [
    '--host',
    host,
    '--port',
    String(port),
    '--state',
    join(options.dataDir, 'state.json'),
    '--state-interval',
    String(options.stateIntervalSeconds ?? 5),
    ...(options.chainId !== undefined ? ['--chain-id', String(options.chainId)] : []),
    ...(options.blockTimeSeconds ? ['--block-time', String(options.blockTimeSeconds)] : []),
    ...(options.extraArgs ?? []),
  ]
  const child = spawn(findAnvilBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  killChildrenOnExit()
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  child.stdout?.on('data', (chunk: Buffer) =>
    options.logger?.trace({ anvil: chunk.toString().trim() }, 'anvil'),
  )
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      children.delete(child)
      resolve(code)
    })
  })
  const httpUrl = `http://${host}:${port}`
  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000)
  let spawnError: Error | undefined
  child.once('error', (error) => {
    spawnError = error
  })
  for (;;) {
    if (spawnError) throw new AnvilStartError(`anvil could not be started: ${spawnError.message}`, stderr)
    if (child.exitCode !== null) throw new AnvilStartError(`anvil exited with code ${child.exitCode}`, stderr)
    try {
      const response = await fetch(httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
        signal: AbortSignal.timeout(1000),
      })
      if (response.ok) break
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new AnvilStartError(`anvil did not answer on ${httpUrl} in time`, stderr)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const stop = async (signal: NodeJS.Signals, graceMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  return {
    httpUrl,
    wsUrl: `ws://${host}:${port}`,
    port,
    pid: child.pid!,
    stop: () => stop('SIGTERM', 5_000),
    kill: () => stop('SIGKILL', 0),
    exited,
  }
}
