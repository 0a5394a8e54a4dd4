// `npm run soak -- --minutes N` (or `--seconds N`) [--seed S] [--clients C]: the reliability soak.
// Prints a summary, writes bench/results/soak-<time>.json at the repository root, and exits 1
// unless nothing was lost, duplicated after its ack, queued twice or wrong.
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
  },
})
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes ?? '1') * 60
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 32)
const clients = Number(values.clients)
if (!(seconds > 0) || !Number.isSafeInteger(seed) || !(Number.isInteger(clients) && clients >= 1)) {
  console.error('usage: npm run soak -- (--minutes N | --seconds N) [--seed S] [--clients C]')
  process.exit(2)
}

const result = await runSoak({
  seconds,
  seed,
  clients,
  meanMs: { backendKill: 12_000, nodeRestart: 15_000, reorg: 1_500, disconnect: 1_500, traffic: 40 },
  log: (line) => console.error(line),
})
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
  `soak: ${passed(result) ? 'passed' : 'FAILED'} (seed ${seed}; replay with --seed ${seed}); figures in ${file}`,
)
process.exit(passed(result) ? 0 : 1)
