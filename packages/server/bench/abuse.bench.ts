import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config/loadConfig.js'
import { createLogger } from '../src/observability/createLogger.js'
import { Service } from '../src/service/Service.js'
import { startAnvil } from '../test/support/anvil.js'
import { signIn } from './support/signIn.js'

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const round = (value: number) => Math.round(value * 100) / 100

/** One GET over `agent`; resolves with its status once the body is read. */
function get(url: URL, token: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * A well-behaved client's latency alone, then while an abusive client floods — in the same run,
 * against the same service, with the default limits. The calm client reads its interests one
 * request at a time (well under its cost rate) from 127.0.0.1; the flooder keeps 256 requests in
 * flight without pause from another /24 (127.0.1.1), so its subnet has an account of its own,
 * as a flood from elsewhere on the internet would. The ratio of the two p99s is the figure.
 */
export async function runAbuseBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const requests = options.quick ? 300 : 1500
  const anvil = await startAnvil()
  const dataDir = mkdtempSync(join(tmpdir(), 'wb-abuse-bench-'))
  const config = loadConfig({
    flags: { port: '0', 'data-dir': dataDir, 'node-url': [anvil.node.httpUrl], 'registration-pow-bits': '0' },
  })
  const service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
  const calmAgent = new Agent({ keepAlive: true, maxSockets: 1 })
  const floodAgent = new Agent({ keepAlive: true, maxSockets: 256, localAddress: '127.0.1.1' })
  try {
    await service.lifecycle.waitFor('live')
    const url = new URL('/v1/interests', service.url)
    const [calm, flooder] = [await signIn(service.url), await signIn(service.url)]
    const measure = async () => {
      const latencies: number[] = []
      const statuses: number[] = []
      for (let i = 0; i < requests; i++) {
        const started = performance.now()
        statuses.push(await get(url, calm, calmAgent))
        latencies.push(performance.now() - started)
        // 10 requests a second and a bit: within the default 20 cost units a second.
        await new Promise((resolve) => setTimeout(resolve, options.quick ? 20 : 60))
      }
      return { latencies, refused: statuses.filter((status) => status !== 200).length }
    }
    const alone = await measure()
    let flooding = true
    const floodStatuses = new Map<number, number>()
    const flood = Promise.all(
      Array.from({ length: 256 }, async () => {
        while (flooding) {
          const status = await get(url, flooder, floodAgent).catch(() => 0)
          floodStatuses.set(status, (floodStatuses.get(status) ?? 0) + 1)
        }
      }),
    )
    await new Promise((resolve) => setTimeout(resolve, 1000)) // the flood is under way and throttled
    const floodStarted = performance.now()
    const during = await measure()
    const floodSeconds = (performance.now() - floodStarted) / 1000
    flooding = false
    await flood
    const total = [...floodStatuses.values()].reduce((a, b) => a + b, 0)
    return {
      calmP50MsAlone: round(percentile(alone.latencies, 50)),
      calmP99MsAlone: round(percentile(alone.latencies, 99)),
      calmP50MsDuringFlood: round(percentile(during.latencies, 50)),
      calmP99MsDuringFlood: round(percentile(during.latencies, 99)),
      ratioP50: round(percentile(during.latencies, 50) / percentile(alone.latencies, 50)),
      ratioP99: round(percentile(during.latencies, 99) / percentile(alone.latencies, 99)),
      calmRefused: alone.refused + during.refused,
      floodRequestsPerSecond: Math.round(total / floodSeconds),
      floodRefusedShare: round((floodStatuses.get(429) ?? 0) / Math.max(1, total)),
    }
  } finally {
    calmAgent.destroy()
    floodAgent.destroy()
    await service.stop()
    await anvil.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}
