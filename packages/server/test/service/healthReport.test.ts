import { describe, expect, it } from 'vitest'
import type { FollowerSnapshot } from '../../src/chain/follower/Follower.js'
import { healthReport, type ServiceState } from '../../src/service/healthReport.js'

const block = (number: number) => ({ number, hash: `0x${number.toString(16).padStart(64, '0')}` as const })

/** A service still connecting: nothing opened, no election yet. */
const connecting: ServiceState = {
  lifecycle: { state: 'connecting', since: '2026-01-01T00:00:00.000Z', reason: 'connecting to the node' },
  version: '1.2.3',
  uptimeSeconds: 4,
  nodeMode: 'external',
  node: undefined,
  storage: { driver: 'postgres', opened: false, problem: undefined },
  position: { head: undefined, finalized: undefined },
  follower: undefined,
  traces: undefined,
  election: undefined,
  background: [],
  failedBackground: [],
  pruner: undefined,
}

const following: FollowerSnapshot = {
  head: block(120),
  safe: block(110),
  finalized: block(100),
  nodeHead: 121,
  alarm: undefined,
  lastError: 'timeout',
  receiptsSource: 'eth_getBlockReceipts',
  unknownTransactionTypes: 'refuse',
  unverifiedBlocks: 0,
  lastUnverified: undefined,
}

describe('healthReport', () => {
  it('reports a service still connecting with what it knows and nothing it does not', () => {
    const report = healthReport(connecting)
    expect(report).toEqual({
      state: 'connecting',
      since: '2026-01-01T00:00:00.000Z',
      reason: 'connecting to the node',
      version: '1.2.3',
      uptimeSeconds: 4,
      node: { mode: 'external', available: false, endpoints: [] },
      storage: { driver: 'postgres', available: false },
      background: [],
    })
  })

  it("reports a leader's chain, finality, traces, term and pruner", () => {
    const report = healthReport({
      ...connecting,
      lifecycle: { state: 'live', since: '2026-01-01T00:01:00.000Z', reason: undefined },
      node: { chainId: 31337, available: true, endpoints: [] },
      storage: { driver: 'pglite', opened: true, problem: undefined },
      position: { head: following.head, finalized: following.finalized },
      follower: following,
      traces: 'trace_block',
      election: { role: { kind: 'leader', term: 7, secret: 's' }, holder: 'me', lastError: undefined },
      pruner: { intervalMs: 60_000, running: false },
    })
    expect(report).not.toHaveProperty('reason')
    expect(report.node).toEqual({ mode: 'external', chainId: 31337, available: true, endpoints: [] })
    expect(report.storage.available).toBe(true)
    expect(report.head).toEqual(block(120))
    expect(report.safe).toEqual(block(110))
    expect(report.finalized).toEqual(block(100))
    expect(report.chain).toEqual({
      nodeHead: 121,
      receiptsSource: 'eth_getBlockReceipts',
      unknownTransactionTypes: 'refuse',
      traces: 'trace_block',
      lastError: 'timeout',
    })
    // The leader's secret stays out of the report.
    expect(report.leadership).toEqual({ role: 'leader', holder: 'me', term: 7 })
    expect(report.pruner).toEqual({ intervalMs: 60_000, running: false })
  })

  it("reports a standby's leader and the chain position the leader recorded, without follower details", () => {
    const report = healthReport({
      ...connecting,
      lifecycle: { state: 'live', since: '2026-01-01T00:01:00.000Z', reason: 'standing by' },
      storage: { driver: 'postgres', opened: true, problem: undefined },
      position: { head: block(50), finalized: { number: 40 } },
      election: {
        role: {
          kind: 'standby',
          leader: {
            term: 3,
            holder: 'other',
            url: 'http://10.0.0.2:8080',
            secret: 'x',
            head: block(50),
            safe: 45,
            finalized: 40,
          },
        },
        holder: 'me',
        lastError: 'lock session lost',
      },
    })
    expect(report.head).toEqual(block(50))
    expect(report).not.toHaveProperty('finalized')
    expect(report).not.toHaveProperty('chain')
    expect(report.leadership).toEqual({
      role: 'standby',
      holder: 'me',
      term: 3,
      leaderUrl: 'http://10.0.0.2:8080',
      lastError: 'lock session lost',
    })
  })

  it('lists background work that gave up, apart from the work still running', () => {
    const running = {
      id: 'backfill-2',
      kind: 'backfill',
      startedAt: '2026-01-01T00:00:00.000Z',
      done: 5,
      total: 10,
    }
    const failed = {
      ...running,
      id: 'account-backfill-1',
      kind: 'account-backfill',
      failedAt: '2026-01-01T00:03:00.000Z',
      error: 'history is not available',
    }
    const report = healthReport({ ...connecting, background: [running], failedBackground: [failed] })
    expect(report.background).toEqual([running])
    expect(report.failedBackground).toEqual([failed])
    expect(healthReport(connecting)).not.toHaveProperty('failedBackground')
  })

  it('reports storage as unavailable while it has a problem, even once opened', () => {
    const report = healthReport({
      ...connecting,
      lifecycle: { state: 'degraded', since: '2026-01-01T00:02:00.000Z', reason: 'storage: gone' },
      storage: { driver: 'postgres', opened: true, problem: 'connection refused' },
    })
    expect(report.storage).toEqual({ driver: 'postgres', available: false })
    expect(report.reason).toBe('storage: gone')
  })
})
