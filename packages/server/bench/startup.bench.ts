import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { freePort } from '../src/chain/node/freePort.js'
import { backendProcess } from '../test/support/backendProcess.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'

const run = promisify(execFile)
const bin = fileURLToPath(new URL('../bin/wallet-backend.mjs', import.meta.url))
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
const seconds = (ms: number) => Math.round(ms) / 1000

async function measure(action: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await action()
  return performance.now() - started
}

/**
 * How fast the compiled CLI (`npm run build`) answers and comes back, with the embedded anvil:
 * `wallet-backend version`; a first start on an empty data directory (and, with PostgreSQL, an
 * empty database) until `/ready` answers 200; and restarts on that data until `/ready`, after
 * SIGTERM and after kill -9. Every time includes starting Node and loading the modules.
 */
export async function runStartupBench(options: {
  quick: boolean
  databaseUrl?: string
}): Promise<Record<string, number>> {
  const rounds = options.quick ? 3 : 7
  const versions: number[] = []
  for (let i = 0; i < rounds * 2; i++)
    versions.push(await measure(() => run(process.execPath, [bin, 'version'])))
  const figures: Record<string, number> = { versionMedianSeconds: seconds(median(versions)) }
  const drivers: [string, string | undefined][] = [['pglite', undefined]]
  if (options.databaseUrl) drivers.push(['postgres', options.databaseUrl])
  for (const [driver, adminUrl] of drivers) {
    const database = adminUrl ? await createTestDatabase(adminUrl) : undefined
    const dataDir = mkdtempSync(join(tmpdir(), 'wb-startup-'))
    const backend = backendProcess({
      dataDir,
      port: await freePort(),
      compiled: true,
      readyTimeoutMs: 120_000,
      flags: ['--log-level', 'warn', ...(database ? ['--database-url', database.url] : [])],
    })
    try {
      figures[`${driver}FirstStartSeconds`] = seconds(await measure(() => backend.start()))
      const afterStop: number[] = []
      const afterKill: number[] = []
      for (let i = 0; i < rounds; i++) {
        await backend.stop()
        afterStop.push(await measure(() => backend.start()))
        await backend.kill()
        afterKill.push(await measure(() => backend.start()))
      }
      figures[`${driver}RestartAfterSigtermMedianSeconds`] = seconds(median(afterStop))
      figures[`${driver}RestartAfterKill9MedianSeconds`] = seconds(median(afterKill))
    } finally {
      await backend.stop()
      await database?.drop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  return figures
}

// `node --conditions=source --import tsx packages/server/bench/startup.bench.ts` runs it alone.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await runStartupBench({ quick: true, databaseUrl: process.env.TEST_DATABASE_URL }))
}
