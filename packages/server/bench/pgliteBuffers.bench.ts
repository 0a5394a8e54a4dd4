import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { PGLITE_MEMORY_PARAMS } from '../src/storage/openStorage.js'

/**
 * What the embedded database's smaller shared buffers cost: the same writes and reads of a
 * queue-shaped table (cursor, client, JSON payload) on PGlite with initdb's 128 MB of shared buffers
 * and with the backend's setting, in one run, with a table larger than the smaller buffers.
 */
export async function runPgliteBuffersBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const rows = options.quick ? 60_000 : 240_000
  const reads = options.quick ? 2_000 : 8_000
  const figures: Record<string, number> = {}
  const settings = [
    ['initdb', [] as string[]],
    ['backend', PGLITE_MEMORY_PARAMS],
  ] as const
  for (const [name, params] of settings) {
    const dir = mkdtempSync(join(tmpdir(), 'wb-pglite-buffers-'))
    const db = new PGlite({ dataDir: dir, startParams: [...PGlite.defaultStartParams, ...params] })
    try {
      await db.waitReady
      await db.exec(
        'create table items (cursor bigint primary key, client bytea not null, payload jsonb not null)',
      )
      let started = performance.now()
      for (let from = 1; from <= rows; from += 1_000) {
        await db.query(
          `insert into items
             select g, decode(md5((g % 500)::text), 'hex'), jsonb_build_object('n', g, 'pad', repeat('x', 300))
             from generate_series($1::bigint, $2::bigint) g`,
          [from, from + 999],
        )
      }
      figures[`${name}RowsWrittenPerSecond`] = Math.round(rows / ((performance.now() - started) / 1000))
      started = performance.now()
      for (let i = 0; i < reads; i++) {
        const after = Math.floor(Math.random() * (rows - 100))
        await db.query('select * from items where cursor > $1 order by cursor limit 100', [after])
      }
      figures[`${name}PageReadsPerSecond`] = Math.round(reads / ((performance.now() - started) / 1000))
    } finally {
      await db.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  figures.writeRatioBackendToInitdb =
    Math.round((figures.backendRowsWrittenPerSecond! / figures.initdbRowsWrittenPerSecond!) * 100) / 100
  figures.readRatioBackendToInitdb =
    Math.round((figures.backendPageReadsPerSecond! / figures.initdbPageReadsPerSecond!) * 100) / 100
  return figures
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runPgliteBuffersBench({ quick: !process.argv.includes('--full') }))
}
