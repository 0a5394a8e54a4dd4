import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { ChainIdMismatchError } from '../../src/chain/node/ensureChainId.js'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { loadConfig } from '../../src/config/loadConfig.js'
import type { LifecycleState } from '../../src/lifecycle/Lifecycle.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wb-service-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function startService(
  flags: Record<string, unknown>,
  logging = createLogger({ level: 'silent' }),
): Promise<Service> {
  const config = loadConfig({
    flags: { port: '0', 'poll-interval-ms': '100', 'rpc-timeout-ms': '1000', ...flags },
  })
  const service = await Service.start({ config, logging })
  cleanups.push(() => service.stop())
  return service
}

async function health(
  service: Service,
): Promise<{ state: LifecycleState; reason?: string; head?: { number: number } }> {
  const response = await fetch(`${service.url}/health`)
  return (await response.json()) as { state: LifecycleState; reason?: string }
}

// Bounds for a machine running other test files beside this one, not expectations.
async function waitForState(service: Service, state: LifecycleState, reason = /./, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const report = await health(service)
    if (report.state === state && reason.test(report.reason ?? '')) return report
    if (Date.now() > deadline) throw new Error(`state is ${report.state} (${report.reason}), not ${state}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function externalAnvil(options: { port?: number; chainId?: number } = {}): Promise<TestAnvil> {
  const anvil = await startAnvil(options)
  cleanups.push(() => anvil.stop())
  return anvil
}

describe('service lifecycle', { timeout: 180_000 }, () => {
  it('waits in connecting while the node is down at start, then goes live', async () => {
    const port = await freePort()
    const service = await startService({ 'data-dir': tempDir(), 'node-url': [`http://127.0.0.1:${port}`] })
    const waiting = await waitForState(service, 'connecting', /waiting for the node/)
    expect(waiting.reason).toMatch(/ECONNREFUSED/)
    expect((await fetch(`${service.url}/ready`)).status).toBe(503)
    await externalAnvil({ port })
    const live = await waitForState(service, 'live')
    expect(live.head?.number).toBe(0)
    expect((await fetch(`${service.url}/ready`)).status).toBe(200)
  })

  it('goes degraded when the node dies while live and back to live when it returns', async () => {
    const anvil = await externalAnvil()
    const service = await startService({ 'data-dir': tempDir(), 'node-url': [anvil.node.httpUrl] })
    await waitForState(service, 'live')
    await anvil.mine(3)
    await new Promise((resolve) => setTimeout(resolve, 1200)) // anvil writes its state every second here
    await anvil.kill()
    const degraded = await waitForState(service, 'degraded', /node/)
    // Refused once anvil is gone, or reset when the kill cut a request in flight.
    expect(degraded.reason).toMatch(
      /No node is available \(endpoint #0: (ECONNREFUSED|ECONNRESET)|unavailable/,
    )
    const metrics = await (await fetch(`${service.url}/metrics`)).text()
    expect(metrics).toMatch(/wallet_backend_lifecycle_transitions_total\{from="live",to="degraded"[^}]*\} 1/)
    await anvil.restart()
    await anvil.mine(2)
    await waitForState(service, 'live')
    // Live again means following the node's chain: same head, hash for hash.
    const latest = await anvil.block('latest')
    const deadline = Date.now() + 10_000
    let report = await health(service)
    while ((report as { head?: { hash: string } }).head?.hash !== latest.hash && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      report = await health(service)
    }
    expect(report).toMatchObject({
      state: 'live',
      head: { number: Number(latest.number), hash: latest.hash },
    })
  })

  it('refuses a node of another chain than the data directory was pinned to', async () => {
    const dataDir = tempDir()
    const first = await externalAnvil()
    const service = await startService({ 'data-dir': dataDir, 'node-url': [first.node.httpUrl] })
    await waitForState(service, 'live')
    await service.stop()
    const other = await externalAnvil({ chainId: 999 })
    const second = await startService({ 'data-dir': dataDir, 'node-url': [other.node.httpUrl] })
    const error = await second.failed
    expect(error).toBeInstanceOf(ChainIdMismatchError)
    expect(error.message).toMatch(/chain 999.*chain 31337/)
  })

  it('stops cleanly and can be stopped twice, logging nothing for an operator to act on', async () => {
    const lines: { level: string; msg: string }[] = []
    const logging = createLogger({
      level: 'info',
      destination: { write: (line) => void lines.push(JSON.parse(line)) },
    })
    const anvil = await externalAnvil()
    const service = await startService({ 'data-dir': tempDir(), 'node-url': [anvil.node.httpUrl] }, logging)
    await waitForState(service, 'live')
    const from = lines.length
    await Promise.all([service.stop(), service.stop()])
    expect(service.lifecycle.state).toBe('stopped')
    await expect(fetch(`${service.url}/health`)).rejects.toThrow()
    // A single instance stepping down to stop hands the chain to no one: no warning, no standing by.
    const stopping = lines.slice(from)
    expect(stopping.map((line) => line.msg)).toContain('no longer the leader')
    expect(stopping.map((line) => line.msg)).not.toContain(
      'standing by: another instance may follow the chain',
    )
    expect(stopping.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual([])
  })
})

describe('wallet-backend CLI', () => {
  const bin = fileURLToPath(new URL('../../bin/wallet-backend.mjs', import.meta.url))

  function run(args: string[]): { child: ChildProcess; stderr: () => string; exit: Promise<number | null> } {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve))
    cleanups.push(() => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    return { child, stderr: () => stderr, exit }
  }

  it('rejects a bad setting with exit code 2 and a message naming it', async () => {
    const { exit, stderr } = run(['start', '--port', 'eighty'])
    expect(await exit).toBe(2)
    expect(stderr()).toMatch(/Invalid setting port \(--port, WALLET_BACKEND_PORT\).*integer from 0 to 65535/)
  })

  it('starts on embedded defaults, reaches live, and drains on SIGTERM with exit code 0', async () => {
    const dataDir = tempDir()
    const { child, exit, stderr } = run(['start', '--data-dir', dataDir, '--port', '0'])
    // A new PGlite database takes seconds to create, many more on a loaded machine.
    const deadline = Date.now() + 100_000
    let url: string | undefined
    while (!url && Date.now() < deadline) {
      url = /listening on (http:\/\/\S+)/.exec(stderr())?.[1]
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(url).toBeDefined()
    let state = ''
    while (state !== 'live' && Date.now() < deadline) {
      state = ((await (await fetch(`${url}/health`)).json()) as { state: string }).state
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(state).toBe('live')
    const anvilUrl = /embedded anvil at (http:\/\/\S+)/.exec(stderr())?.[1]
    expect(anvilUrl).toBeDefined()
    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(stderr()).toMatch(/SIGTERM: draining/)
    await expect(fetch(anvilUrl!, { method: 'POST', body: '{}' })).rejects.toThrow()
    expect(readdirSync(dataDir).sort()).toEqual(
      expect.arrayContaining(['admin-token', 'anvil', 'chain.json', 'pglite']),
    )
  }, 150_000)

  it('prints help and version', async () => {
    const help = run(['--help'])
    expect(await help.exit).toBe(0)
    const version = run(['version'])
    expect(await version.exit).toBe(0)
  })
})
