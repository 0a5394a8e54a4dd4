import { createHash, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil } from '../test/support/anvil.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import { signIn } from './support/signIn.js'

/** Sequential GET and compare-and-set PUT of a 16 kB wallet state, per second, on one client. */
async function measure(
  url: string,
  operations: number,
): Promise<{ putsPerSecond: number; getsPerSecond: number }> {
  const token = await signIn(url)
  const auth = { authorization: `Bearer ${token}` }
  let etag: string | undefined
  let started = performance.now()
  for (let i = 0; i < operations; i++) {
    const body = randomBytes(16 * 1024).toString('base64url')
    const response = await fetch(`${url}/v1/wallet-state`, {
      method: 'PUT',
      headers: {
        ...auth,
        'content-type': 'application/jose',
        ...(etag ? { 'if-match': `"${etag}"` } : { 'if-none-match': '*' }),
      },
      body,
    })
    if (!response.ok) throw new Error(`PUT answered ${response.status}`)
    etag = createHash('sha256').update(body).digest('hex')
  }
  const putsPerSecond = operations / ((performance.now() - started) / 1000)
  started = performance.now()
  for (let i = 0; i < operations; i++) {
    const response = await fetch(`${url}/v1/wallet-state`, { headers: auth })
    await response.arrayBuffer()
  }
  const getsPerSecond = operations / ((performance.now() - started) / 1000)
  return { putsPerSecond: Math.round(putsPerSecond), getsPerSecond: Math.round(getsPerSecond) }
}

export async function runWalletStateHttpBench(options: {
  quick: boolean
  databaseUrl?: string
}): Promise<Record<string, number>> {
  const operations = options.quick ? 300 : 2000
  const anvil = await startAnvil()
  const figures: Record<string, number> = {}
  try {
    for (const driver of ['pglite', 'postgres'] as const) {
      if (driver === 'postgres' && !options.databaseUrl) continue
      const dataDir = mkdtempSync(join(tmpdir(), 'wb-wsbench-'))
      const scratch = driver === 'postgres' ? await createTestDatabase(options.databaseUrl!) : undefined
      const databaseUrl = scratch?.url
      const config = loadConfig({
        flags: {
          port: '0',
          'data-dir': dataDir,
          'node-url': [anvil.node.httpUrl],
          'registration-pow-bits': '0',
          // Throughput is measured here, not the client's cost limit.
          'client-cost-per-second': '1000000',
          'client-cost-burst': '10000000',
          ...(databaseUrl ? { 'database-url': databaseUrl } : {}),
        },
      })
      const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
      try {
        await service.lifecycle.waitFor('live')
        const { putsPerSecond, getsPerSecond } = await measure(service.url, operations)
        figures[`${driver}PutsPerSecond`] = putsPerSecond
        figures[`${driver}GetsPerSecond`] = getsPerSecond
      } finally {
        await service.stop()
        await scratch?.drop()
        rmSync(dataDir, { recursive: true, force: true })
      }
    }
  } finally {
    await anvil.stop()
  }
  return figures
}
