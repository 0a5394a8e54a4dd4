import { describe, expect, it } from 'vitest'
import { PollSchedule } from '../../src/chain/follower/PollSchedule.js'

type Run = {
  /** Time of every head poll. */
  polls: number[]
  /** For each block, how long after it was produced a poll first saw it. */
  seenAfter: Map<number, number>
  schedule: PollSchedule
}

/**
 * Polls a simulated node whose block `n` (from 1) appears at `arrivals[n - 1]` ms, following the
 * schedule's delays from time 0 until `until` — simulated time, no clock involved.
 */
function simulate(arrivals: number[], until: number, idleMs = 1_000): Run {
  const schedule = new PollSchedule({ idleMs })
  const polls: number[] = []
  const seenAfter = new Map<number, number>()
  let seen = 0
  for (let now = 0; now <= until; now += schedule.delayMs(now)) {
    polls.push(now)
    const head = arrivals.filter((at) => at <= now).length
    for (let n = seen + 1; n <= head; n++) seenAfter.set(n, now - arrivals[n - 1]!)
    seen = Math.max(seen, head)
    schedule.observe(head, now)
  }
  return { polls, seenAfter, schedule }
}

const between = (run: Run, from: number, to: number) => run.polls.filter((t) => t >= from && t < to).length

describe('PollSchedule', () => {
  it('follows regular 1 s blocks with one or two polls per block, each seen within a step', () => {
    // Blocks at 1.37 s, 2.37 s, … — a phase the idle polls do not share.
    const arrivals = Array.from({ length: 60 }, (_, i) => 1_370 + i * 1_000)
    const run = simulate(arrivals, 60_500)
    expect(Math.abs(run.schedule.intervalMs! - 1_000)).toBeLessThan(50)
    // After the first few blocks taught it the rhythm:
    const polls = between(run, 10_370, 60_370)
    expect(polls / 50).toBeGreaterThanOrEqual(1)
    expect(polls / 50).toBeLessThanOrEqual(2)
    for (let n = 10; n <= 60; n++) expect(run.seenAfter.get(n), `block ${n}`).toBeLessThanOrEqual(100)
  })

  it('sees 12 s blocks with jitter and missed slots promptly, with few polls beyond the idle ones', () => {
    // Slots every 12 s; a block 0–400 ms into its slot, pseudo-randomly; every 7th slot missed.
    const arrivals: number[] = []
    for (let slot = 1; slot <= 40; slot++) {
      if (slot % 7 === 0) continue
      arrivals.push(slot * 12_000 + ((slot * 7919) % 400))
    }
    const run = simulate(arrivals, 40 * 12_000 + 1_000)
    expect(run.schedule.intervalMs).toBeGreaterThan(11_000)
    expect(run.schedule.intervalMs).toBeLessThan(13_000)
    const late = [...run.seenAfter].filter(([n]) => n > 5).map(([, after]) => after)
    // A jittered block is seen within a step of it most of the time…
    // A block is mostly seen within a step of its arrival, never later than the idle bound…
    const sorted = [...late].sort((a, b) => a - b)
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThanOrEqual(100)
    expect(sorted[sorted.length - 1]).toBeLessThanOrEqual(1_000)
    // The waits between blocks stay at the idle bound: about the polls of a fixed 1 s interval
    // (480), plus the short steps around each block.
    expect(run.polls.length).toBeLessThan(480 * 1.2)
  })

  it('backs off to the idle bound on a chain that stopped', () => {
    const arrivals = Array.from({ length: 10 }, (_, i) => 500 + i * 1_000)
    const run = simulate(arrivals, 70_000, 2_000)
    // After the last block (at 9.5 s) the waits grow until they are the idle bound.
    const gaps = run.polls.slice(1).map((t, i) => t - run.polls[i]!)
    expect(gaps.slice(-10).every((gap) => gap === 2_000)).toBe(true)
    // Not many polls before the back-off reached the bound: the steps grow geometrically.
    expect(between(run, 9_500, 20_000)).toBeLessThanOrEqual(16)
    expect(run.schedule.delayMs(1_000_000)).toBe(2_000)
  })

  it('polls at the idle bound while no rhythm is known (a chain that never mined)', () => {
    const run = simulate([], 10_000, 1_000)
    expect(run.polls).toEqual(Array.from({ length: 11 }, (_, i) => i * 1_000))
    expect(run.schedule.intervalMs).toBeUndefined()
  })

  it('keeps the rhythm of 1 s blocks through a burst of 50 blocks', () => {
    const regular = Array.from({ length: 40 }, (_, i) => 1_370 + i * 1_000)
    // 50 blocks mined at once (anvil_mine, a catch-up) 20.6 s in.
    const arrivals = [...regular, ...Array.from({ length: 50 }, () => 20_600)].sort((a, b) => a - b)
    const run = simulate(arrivals, 40_500)
    expect(Math.abs(run.schedule.intervalMs! - 1_000)).toBeLessThan(50)
    const after = between(run, 22_370, 40_370)
    expect(after / 18).toBeLessThanOrEqual(2)
    // The burst moved the phase; a few blocks later the blocks are seen within a step again.
    for (const [n, seenAfter] of run.seenAfter)
      if (n > 77) expect(seenAfter, `block ${n}`).toBeLessThanOrEqual(100)
  })

  it('never waits longer than the idle bound, even for slow blocks', () => {
    const arrivals = Array.from({ length: 12 }, (_, i) => 1_000 + i * 30_000)
    const run = simulate(arrivals, 340_000, 5_000)
    expect(run.schedule.intervalMs).toBeGreaterThan(29_000)
    const gaps = run.polls.slice(1).map((t, i) => t - run.polls[i]!)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5_000)
    // Slow blocks are still seen within two steps once the rhythm is known.
    for (let n = 9; n <= 12; n++) expect(run.seenAfter.get(n)).toBeLessThanOrEqual(200)
  })

  it('takes no sample from a head that went back, and restarts the phase there', () => {
    const schedule = new PollSchedule({ idleMs: 1_000 })
    schedule.observe(10, 0)
    schedule.observe(11, 1_000)
    schedule.observe(9, 1_500) // a shorter chain after a reorg
    schedule.observe(10, 2_500)
    // Arrivals taken a step before the poll that found them after a long gap: 0, 900; then 1,410
    // and 2,410 after the reorg. Samples 900 and 1,000 — a sample across the reorg would be negative.
    expect(schedule.intervalMs).toBe(1_000)
    // Due at 3,410.
    expect(schedule.delayMs(2_500)).toBe(910)
  })
})
