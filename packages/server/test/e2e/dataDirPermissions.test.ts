import { spawn } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { backendProcess } from '../support/backendProcess.js'
import { waitUntil } from '../support/waitUntil.js'

const root = mkdtempSync(join(tmpdir(), 'wb-perms-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Every path under `dir` (itself included) with group or other permission bits set. */
function exposed(dir: string): string[] {
  const found: string[] = []
  const visit = (path: string) => {
    const stat = statSync(path)
    if ((stat.mode & 0o077) !== 0) found.push(`${path} ${(stat.mode & 0o777).toString(8)}`)
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry))
  }
  visit(dir)
  return found
}

describe('data directory permissions', () => {
  it('a fresh data directory and everything the CLI writes into it is for its user only', async () => {
    const dataDir = join(root, 'fresh', 'data')
    const backend = backendProcess({ dataDir, port: await freePort('127.0.0.1') })
    try {
      await backend.start()
      // The embedded database, the embedded node's directory, the chain pin and the admin token.
      await waitUntil(
        () =>
          ['pglite', 'anvil', 'chain.json', 'admin-token'].every((name) =>
            readdirSync(dataDir).includes(name),
          ),
        30_000,
        'the data directory to be filled',
      )
      expect(readdirSync(join(dataDir, 'pglite')).length).toBeGreaterThan(0)
      expect(exposed(dataDir)).toEqual([])
    } finally {
      await backend.stop()
    }
    // Files written on the way out (the node's exit dump) too.
    expect(exposed(dataDir)).toEqual([])
  }, 90_000)

  it('refuses to start on an existing directory other users can enter, naming the fix', async () => {
    const dataDir = join(root, 'open')
    mkdirSync(dataDir)
    chmodSync(dataDir, 0o777)
    const bin = fileURLToPath(new URL('../../bin/wallet-backend.mjs', import.meta.url))
    const child = spawn(
      process.execPath,
      [bin, 'start', '--data-dir', dataDir, '--port', '0', '--node-url', 'http://127.0.0.1:1'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk)
    })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(code).toBe(1)
    expect(stderr).toContain('0777')
    expect(stderr).toContain(`chmod 700 ${dataDir}`)
    // Nothing was written into it.
    expect(readdirSync(dataDir)).toEqual([])
  }, 60_000)
})
