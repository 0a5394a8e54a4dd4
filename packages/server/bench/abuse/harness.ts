import { Agent, request } from 'node:http'
import { Worker } from 'node:worker_threads'
import type { TestAnvil } from '../../test/support/anvil.js'
import { signIn } from '../support/signIn.js'

// biome-ignore lint/suspicious/noExplicitAny: answers of the API under attack, read field by field
export type Json = any

/** The backend under attack and what attacks need to set themselves up. */
export type AbuseEnv = {
  url: string
  anvil: TestAnvil
  quick: boolean
  /** A new signed-in client's session token. */
  signIn(): Promise<string>
  /** A JSON request as `token`'s client from 127.0.0.1; resolves with the status and parsed body. */
  call(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; json: Json }>
  /** An attacker's load in a worker of its own, bounded in time; `stop` ends it and says what it did. */
  load(load: Record<string, unknown> & { kind: string }): RunningLoad
}

export type LoadReport = { sent: number; statuses: Record<string, number>; seconds: number }
export type RunningLoad = { stop(): Promise<LoadReport> }

/** What the calm client does, once per sample; resolves with its status (200 for success). */
export type CalmProbe = { name: string; once(env: AbuseEnv): Promise<number> }

export type Attack = {
  name: string
  /** Runs through both phases: what the chain around the service is doing anyway (traffic). */
  environment?(env: AbuseEnv): Promise<RunningLoad>
  /** The calm client's request, a read of its interests unless the attack targets something else. */
  probe?: CalmProbe
  /** Sets the attack up and starts its load; the returned `stop` ends it and describes it. */
  start(env: AbuseEnv): Promise<{ stop(): Promise<string> }>
}

export type AttackRow = {
  calmP50MsAlone: number
  calmP99MsAlone: number
  calmP50MsDuring: number
  calmP99MsDuring: number
  ratioP99: number
  calmRefused: number
  calmSamples: string
  attack: string
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}
const round = (value: number) => (value >= 100 ? Math.round(value) : Math.round(value * 10) / 10)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const calmAgent = new Agent({ keepAlive: true, maxSockets: 1 })

/** A calm request unanswered this long counts as failed (and as taking this long). */
export const CALM_TIMEOUT_MS = 10_000

/** One request from the calm client (127.0.0.1); one unanswered after `CALM_TIMEOUT_MS` counts as failed. */
function calmGet(url: URL, token: string, timeoutMs = CALM_TIMEOUT_MS): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { agent: calmAgent, headers: { authorization: `Bearer ${token}` } },
      (response) => {
        response.resume()
        response.on('end', () => resolve(response.statusCode ?? 0))
      },
    )
    req.setTimeout(timeoutMs, () => {
      req.destroy()
      resolve(0)
    })
    req.on('error', () => resolve(0))
    req.end()
  })
}

/** The default calm client: reads its interests, one request at a time, about 20 a second at most. */
export function readInterestsProbe(token: string): CalmProbe {
  return {
    name: 'GET /v1/interests',
    once: (env) => calmGet(new URL('/v1/interests', env.url), token),
  }
}

export function makeEnv(url: string, anvil: TestAnvil, quick: boolean): AbuseEnv {
  return {
    url,
    anvil,
    quick,
    signIn: () => signIn(url),
    call: async (method, path, token, body) => {
      const response = await fetch(new URL(path, url), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      })
      const text = await response.text()
      return { status: response.status, json: text ? JSON.parse(text) : undefined }
    },
    load: (load) => {
      const worker = new Worker(new URL('./load.worker.mjs', import.meta.url), {
        workerData: { load: { ...load, url }, deadlineMs: quick ? 60_000 : 180_000 },
      })
      const report = new Promise<LoadReport>((resolve, reject) => {
        worker.once('message', (message: LoadReport & { type: string }) => resolve(message))
        worker.once('error', reject)
      })
      return {
        stop: async () => {
          worker.postMessage('stop')
          const done = await report
          await worker.terminate()
          return done
        },
      }
    },
  }
}

/** The calm client's samples: `count` of them about `gapMs` apart, or as many as fit in `maxMs`. */
async function sample(env: AbuseEnv, probe: CalmProbe, count: number, gapMs: number, maxMs: number) {
  const latencies: number[] = []
  let refused = 0
  const deadline = performance.now() + maxMs
  while (latencies.length < count && (latencies.length < 2 || performance.now() < deadline)) {
    const started = performance.now()
    const status = await probe.once(env)
    latencies.push(performance.now() - started)
    if (status !== 200) refused++
    await sleep(gapMs)
  }
  return { latencies, refused }
}

/**
 * Waits (30 s at most) until the calm client is answered quickly again: work an earlier attack
 * left behind (requests still being served, queues) must not count against the next one.
 */
async function settle(env: AbuseEnv, calm: CalmProbe): Promise<void> {
  const deadline = performance.now() + 30_000
  let quick = 0
  while (quick < 3 && performance.now() < deadline) {
    const started = performance.now()
    await calm.once(env)
    quick = performance.now() - started < 100 ? quick + 1 : 0
    await sleep(50)
  }
}

/**
 * One row: the calm client alone, then during the attack, in the same run against the same
 * service. The goal printed with it: the calm p99 during the attack at most twice the p99 alone,
 * and no calm request refused.
 */
export async function runAttack(env: AbuseEnv, attack: Attack, calm: CalmProbe): Promise<AttackRow> {
  const probe = attack.probe ?? calm
  const [count, gapMs, maxMs] =
    probe === calm
      ? env.quick
        ? [40, 20, 3_000]
        : [300, 40, 30_000]
      : env.quick
        ? [3, 100, 8_000]
        : [5, 200, 30_000]
  await settle(env, calm)
  const environment = await attack.environment?.(env)
  try {
    if (environment) await sleep(1_000)
    const alone = await sample(env, probe, count, gapMs, maxMs)
    const running = await attack.start(env)
    let described: string
    let during: Awaited<ReturnType<typeof sample>>
    try {
      await sleep(1_000) // the attack is under way (and, where it is limited, throttled)
      during = await sample(env, probe, count, gapMs, maxMs)
    } finally {
      described = await running.stop()
    }
    const p99Alone = percentile(alone.latencies, 99)
    const p99During = percentile(during.latencies, 99)
    return {
      calmP50MsAlone: round(percentile(alone.latencies, 50)),
      calmP99MsAlone: round(p99Alone),
      calmP50MsDuring: round(percentile(during.latencies, 50)),
      calmP99MsDuring: round(p99During),
      ratioP99: Math.round((p99During / p99Alone) * 100) / 100,
      calmRefused: alone.refused + during.refused,
      calmSamples: `${probe.name}: ${alone.latencies.length} alone, ${during.latencies.length} during`,
      attack: described,
    }
  } finally {
    await environment?.stop()
  }
}

/** `statuses` as "200: 12, 429: 340", and the rate of everything sent. */
export function describeLoad(report: LoadReport): string {
  const statuses = Object.entries(report.statuses)
    .map(([status, n]) => `${status}: ${n}`)
    .join(', ')
  return `${Math.round(report.sent / Math.max(0.001, report.seconds))}/s (${statuses || 'none answered'})`
}
