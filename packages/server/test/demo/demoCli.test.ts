import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { waitUntil } from '../support/waitUntil.js'

/** The CLI from its sources, as the other CLI tests run it. */
function cli(args: string[]): ChildProcess & { output: () => string } {
  const tsx = createRequire(import.meta.url).resolve('tsx')
  const entry = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => {
    output += chunk
  })
  child.stderr!.on('data', (chunk) => {
    output += chunk
  })
  return Object.assign(child, { output: () => output })
}

const exited = (child: ChildProcess) =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

const dirs: string[] = []
const children: ChildProcess[] = []
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited(child)
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describe('wallet-backend start --demo', () => {
  it('is refused with an external node, saying why', async () => {
    const child = cli(['start', '--demo', '--node-url', 'http://127.0.0.1:1'])
    children.push(child)
    expect(await exited(child)).toBe(2)
    expect(child.output()).toMatch(/--demo runs only on the embedded anvil/)
  })

  it('deploys its contracts, keeps blocks coming and serves its wallets, as the console shows', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-demo-'))
    dirs.push(dataDir)
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const child = cli([
      'start',
      '--demo',
      '--port',
      String(port),
      '--data-dir',
      dataDir,
      '--log-level',
      'warn',
    ])
    children.push(child)
    // Under a loaded machine, a new embedded database and node take a while: the bound is generous.
    await waitUntil(
      () => /demo: \d+ wallets signed in/.test(child.output()),
      240_000,
      'the demo wallets',
      200,
    )
    const output = child.output()
    expect(output).toContain(`operator console: ${url}/console`)
    const addresses =
      /DemoToken \(ERC-20\) at (0x[0-9a-f]{40}), DemoCollectible \(ERC-721\) at (0x[0-9a-f]{40})/.exec(output)
    expect(addresses).not.toBeNull()

    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
    const admin = async <T>(path: string): Promise<T> => {
      const response = await fetch(`${url}/admin${path}`, { headers: { authorization: `Bearer ${token}` } })
      expect(response.status).toBe(200)
      return (await response.json()) as T
    }
    type Overview = {
      health: { state: string; head?: { number: number } }
      clients: { active: number } | null
    }
    const first = await admin<Overview>('/overview')
    // Blocks keep coming without anyone sending anything.
    let head = first.health.head?.number ?? 0
    await waitUntil(
      async () => {
        head = (await admin<Overview>('/overview')).health.head?.number ?? 0
        return head >= (first.health.head?.number ?? 0) + 3
      },
      60_000,
      'the head to advance',
      500,
    )
    // The demo's wallets are clients, following the deployed contracts, and get items delivered.
    type Client = { id: string; usage: { bytesDelivered: number } }
    let wallets: Client[] = []
    await waitUntil(
      async () => {
        wallets = (await admin<{ clients: Client[] }>('/clients')).clients
        return wallets.length >= 4 && wallets.every((wallet) => wallet.usage.bytesDelivered > 0)
      },
      60_000,
      'items delivered to every demo wallet',
      500,
    )
    type Details = { interests: { address: string; deployed: boolean }[] }
    const followed = new Set<string>()
    for (const wallet of wallets) {
      for (const interest of (await admin<Details>(`/clients/${wallet.id}/details`)).interests) {
        expect(interest.deployed).toBe(true)
        followed.add(interest.address)
      }
    }
    expect([...followed].sort()).toEqual([addresses![1], addresses![2]].sort())
    type Series = { samples: { itemsDeliveredPerSecond: number; blocksPerSecond: number }[] }
    await waitUntil(
      async () => (await admin<Series>('/metrics/series')).samples.some((s) => s.itemsDeliveredPerSecond > 0),
      30_000,
      'deliveries in the time series',
      500,
    )

    // It stops cleanly on SIGTERM, the demo with it.
    child.kill('SIGTERM')
    expect(await exited(child)).toBe(0)
  }, 360_000)
})
