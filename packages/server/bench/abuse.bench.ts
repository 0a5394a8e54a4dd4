import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startAnvil } from '../test/support/anvil.js'
import { createTestDatabase } from '../test/support/createTestDatabase.js'
import { abiAmplification } from './abuse/abiAmplification.js'
import { backfillFlood } from './abuse/backfillFlood.js'
import { busyContract } from './abuse/busyContract.js'
import { type Attack, type AttackRow, makeEnv, readInterestsProbe, runAttack } from './abuse/harness.js'
import { largeListReads } from './abuse/largeListReads.js'
import { requestFlood } from './abuse/requestFlood.js'
import { walletStateStorm } from './abuse/walletStateStorm.js'
import { wsAckFlood } from './abuse/wsAckFlood.js'
import { spawnBackend } from './support/spawnBackend.js'

/**
 * Every attack class, one row each. The back-fill flood and the ABI amplification come last: the
 * history fetches and the pages they start outlive the attacker's own load (a page it no longer
 * waits for is still built), and the pages slow down everything after them the most.
 */
const attacks = (): Attack[] => [
  requestFlood,
  wsAckFlood,
  walletStateStorm(1),
  walletStateStorm(4),
  busyContract(),
  largeListReads,
  backfillFlood,
  abiAmplification,
]

const GOAL_RATIO = 2

/** A row as the table shows it: the calm client alone and during, the goal, and what the attacker did. */
export function formatRow(row: AttackRow): string {
  const met = row.ratioP99 <= GOAL_RATIO && row.calmRefused === 0
  return (
    `calm p50/p99 ${row.calmP50MsAlone}/${row.calmP99MsAlone} ms alone, ` +
    `${row.calmP50MsDuring}/${row.calmP99MsDuring} ms during; ratio p99 ${row.ratioP99}, ` +
    `calm refused ${row.calmRefused} — goal (≤ ${GOAL_RATIO}×, 0 refused) ${met ? 'met' : 'MISSED'}; ` +
    `${row.calmSamples}; attack: ${row.attack}`
  )
}

/**
 * One service per storage (PGlite, and PostgreSQL when a URL is given), the `wallet-backend start`
 * CLI in a process of its own, following anvil with the default limits. For each attack class a
 * calm client is measured alone and then during the attack, in the same run; attackers run in
 * worker threads, from their own /24s on the loopback, bounded in count and time.
 */
export async function runAbuseBench(options: {
  quick: boolean
  databaseUrl?: string
}): Promise<Record<string, string>> {
  const anvil = await startAnvil()
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-abuse-bench-'))
  const figures: Record<string, string> = {}
  try {
    // History for the back-fill flood to fetch; the service starts at the head and never catches up on it.
    await anvil.mine(options.quick ? 2_000 : 10_000)
    const storages: {
      name: string
      flags: () => Promise<{ flags: Record<string, string>; drop?: () => Promise<void> }>
    }[] = [{ name: 'PGlite', flags: async () => ({ flags: {} }) }]
    if (options.databaseUrl) {
      const adminUrl = options.databaseUrl
      storages.push({
        name: 'PostgreSQL',
        flags: async () => {
          const database = await createTestDatabase(adminUrl)
          return { flags: { 'database-url': database.url }, drop: database.drop }
        },
      })
    }
    for (const storage of storages) {
      const { flags, drop } = await storage.flags()
      const backend = await spawnBackend({
        'data-dir': join(dataDir, storage.name),
        'node-url': anvil.node.wsUrl,
        'registration-pow-bits': '0',
        'start-block': 'latest',
        ...flags,
      })
      try {
        const env = makeEnv(backend.url, anvil, options.quick)
        const calm = readInterestsProbe(await env.signIn())
        for (const attack of attacks()) {
          console.error(`bench: abuse ${storage.name}: ${attack.name}…`)
          const row = await runAttack(env, attack, calm)
          figures[`${storage.name}: ${attack.name}`] = formatRow(row)
          console.error(`bench:   ${formatRow(row)}`)
        }
      } finally {
        await backend.stop()
        await drop?.()
      }
    }
    return figures
  } finally {
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = !process.argv.includes('--full')
  const databaseUrl = process.env.TEST_DATABASE_URL
  const figures = await runAbuseBench({ quick, ...(databaseUrl ? { databaseUrl } : {}) })
  console.log(
    Object.entries(figures)
      .map(([name, value]) => `| ${name} | ${value} |`)
      .join('\n'),
  )
}
