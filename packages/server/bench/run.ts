// `npm run bench [-- --full] [-- --database-url postgres://…]`: runs every benchmark, prints a
// Markdown table and writes the figures to bench/results/<time>.json at the repository root.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runBundleSizeBench } from '../../sdk/bench/bundleSize.bench.js'
import { runWalletStateBench } from '../../wallet-state/bench/walletState.bench.js'
import { runAbuseBench } from './abuse.bench.js'
import { runArrivalBench } from './arrival.bench.js'
import { runCatchUpBench } from './catchUp.bench.js'
import { runContractStateBench } from './contractState.bench.js'
import { runFailoverBench } from './failover.bench.js'
import { runHeadPollingBench } from './headPolling.bench.js'
import { runJsonRpcBench } from './jsonRpc.bench.js'
import { runLatencyBench } from './latency.bench.js'
import { runMatchingBench } from './matching.bench.js'
import { runMemoryBench } from './memory.bench.js'
import { runNodeCallsBench } from './nodeCalls.bench.js'
import { runPgliteBuffersBench } from './pgliteBuffers.bench.js'
import { runStartupBench } from './startup.bench.js'
import { runWalletStateHttpBench } from './walletStateHttp.bench.js'

const { values } = parseArgs({
  options: { full: { type: 'boolean', default: false }, 'database-url': { type: 'string' } },
})
const quick = !values.full
const databaseUrl = values['database-url'] ?? process.env.TEST_DATABASE_URL

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
}
const results: Record<string, Record<string, number | string>> = {}

/** Runs one benchmark, saying on stderr when it starts and how long it took. */
async function timed<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now()
  console.error(`bench: ${name}…`)
  const figures = await run()
  console.error(`bench: ${name} done in ${Math.round((performance.now() - started) / 1000)} s`)
  return figures
}
const started = Date.now()

console.error(`bench: ${quick ? 'quick' : 'full'} mode${databaseUrl ? ', with PostgreSQL' : ', PGlite only'}`)
results.startup = await timed('startup', () =>
  runStartupBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) }),
)
results.sdkBundle = await timed('sdkBundle', () => runBundleSizeBench())
results.catchUp = await timed('catchUp', () =>
  runCatchUpBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) }),
)
results.matching = await timed('matching', () => runMatchingBench({ quick }))
results.pgliteBuffers = await timed('pgliteBuffers', () => runPgliteBuffersBench({ quick }))
results.latency = await timed('latency', () =>
  runLatencyBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) }),
)
results.arrival = await timed('arrival', () =>
  runArrivalBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) }),
)
results.nodeCalls = await timed('nodeCalls', () => runNodeCallsBench({ quick }))
results.headPolling = await timed('headPolling', () => runHeadPollingBench({ quick }))
results.jsonRpc = await timed('jsonRpc', () => runJsonRpcBench({ quick }))
results.contractState = await timed('contractState', () => runContractStateBench({ quick }))
results.memory = await timed('memory', () => runMemoryBench({ quick }))
results.abuse = await timed('abuse', () => runAbuseBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) }))
if (databaseUrl) results.failover = await timed('failover', () => runFailoverBench({ quick, databaseUrl }))
else console.error('bench: failover skipped — it needs PostgreSQL (TEST_DATABASE_URL or --database-url)')
results.walletState = {
  ...(await runWalletStateBench({ quick })),
  ...(await runWalletStateHttpBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) })),
}

const lines = ['| benchmark | figure | value |', '|---|---|---|']
for (const [name, figures] of Object.entries(results)) {
  for (const [figure, value] of Object.entries(figures)) lines.push(`| ${name} | ${figure} | ${value} |`)
}
console.log(lines.join('\n'))
const dir = fileURLToPath(new URL('../../../bench/results/', import.meta.url))
mkdirSync(dir, { recursive: true })
const file = `${dir}${new Date().toISOString().replace(/[:.]/g, '-')}.json`
writeFileSync(
  file,
  `${JSON.stringify({ time: new Date().toISOString(), mode: quick ? 'quick' : 'full', machine, seconds: (Date.now() - started) / 1000, results }, null, 2)}\n`,
)
console.error(`bench: figures written to ${file}`)
