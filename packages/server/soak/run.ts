// `npm run soak -- --minutes N` (or `--seconds N`) [--seed S] [--clients C]
// [--database-url postgres://…] [--instances I]: the reliability soak. Several instances need
// PostgreSQL: `--database-url`, else TEST_DATABASE_URL; without either the run says it is skipped.
// Prints a summary, writes bench/results/soak-<time>.json at the repository root, and exits 1
// unless nothing was lost, duplicated after its ack, queued twice or wrong, and every producer of
// items (filters, accounts, contract state, submissions, dormancy) produced some.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { formatReport, passed } from './report.js'
import { runSoak } from './runSoak.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string' },
    seconds: { type: 'string' },
    seed: { type: 'string' },
    clients: { type: 'string', default: '6' },
    'database-url': { type: 'string' },
    instances: { type: 'string', default: '1' },
  },
})
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? '1') * 60
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 32)
const clients = Number(values.clients)
const instances = Number(values.instances)
const databaseUrl = values['database-url'] ?? (instances > 1 ? process.env.TEST_DATABASE_URL : undefined)
if (instances > 1 && !databaseUrl) {
  console.error(
    `soak of ${instances} instances: skipped — it needs PostgreSQL (--database-url or TEST_DATABASE_URL)`,
  )
  process.exit(0)
}
if (
  !(seconds > 0) ||
  !Number.isSafeInteger(seed) ||
  !(Number.isInteger(clients) && clients >= 1) ||
  !(Number.isInteger(instances) && instances >= 1 && instances <= 8)
) {
  console.error(
    'usage: npm run soak -- (--minutes N | --seconds N) [--seed S] [--clients C] [--database-url postgres://… [--instances 1-8]]',
  )
  process.exit(2)
}

const run = (seed: number) =>
  runSoak({
    seconds,
    seed,
    clients,
    instances,
    ...(databaseUrl ? { databaseUrl } : {}),
    meanMs: {
      backendKill: 12_000,
      nodeRestart: 15_000,
      reorg: 1_500,
      disconnect: 1_500,
      traffic: 40,
      submit: 1_000,
      dormancy: 8_000,
    },
    log: (line) => console.error(line),
  })
let result = await run(seed)
// A run in which anvil lost chain data of its own is no verdict on the backend: it is said, and a
// drawn seed gets one more run with another; a seed asked for is replayed as it is.
if (!passed(result) && result.nodeBroken && values.seed === undefined) {
  const next = Math.floor(Math.random() * 2 ** 32)
  console.error(
    `soak: the node broke (${result.nodeBroken}), seed ${seed}: no verdict on the backend; once more with seed ${next}`,
  )
  result = await run(next)
}
console.log(formatReport(result))
for (const problem of result.total.problems) console.log(`- ${problem}`)

const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url))
mkdirSync(dir, { recursive: true })
const time = new Date().toISOString()
const file = `${dir}soak-${time.replace(/[:.]/g, '-')}.json`
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
}
writeFileSync(file, `${JSON.stringify({ time, machine, passed: passed(result), result }, null, 2)}\n`)
console.error(
  `soak: ${passed(result) ? 'passed' : 'FAILED'} (seed ${result.seed}; replay with --seed ${result.seed}); figures in ${file}`,
)
process.exit(passed(result) ? 0 : 1)
