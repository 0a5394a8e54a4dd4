import { pino } from 'pino'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { CostLimiter, RateLimitedError } from '../../src/clients/abuse/CostLimiter.js'
import { subnetOf } from '../../src/clients/abuse/subnetOf.js'

describe('subnetOf', () => {
  it('groups IPv4 by /24 and IPv6 by /48, mapped IPv4 as IPv4', () => {
    expect(subnetOf('203.0.113.77')).toBe('203.0.113.0/24')
    expect(subnetOf('::ffff:203.0.113.9')).toBe('203.0.113.0/24')
    expect(subnetOf('2001:db8:abcd:12::1')).toBe('2001:db8:abcd::/48')
    expect(subnetOf('2001:db8::1')).toBe('2001:db8:0::/48')
    expect(subnetOf('::1')).toBe('0:0:0::/48')
  })
})

describe('CostLimiter', () => {
  const limiter = (clock: { now: number }) =>
    new CostLimiter(
      { client: { perSecond: 10, soft: 50, hard: 100 }, subnet: { perSecond: 100, soft: 500, hard: 1000 } },
      { logger: pino({ level: 'silent' }), metrics: new Registry() },
      () => clock.now,
    )

  it('lets requests through under the soft limit, slows them above it, refuses above the hard limit', () => {
    const clock = { now: 0 }
    const l = limiter(clock)
    for (let i = 0; i < 50; i++) expect(l.charge('client', 'a', 1)).toBe(0)
    expect(l.charge('client', 'a', 10)).toBe(1000) // 10 units over soft at 10/s
    l.charge('client', 'a', 40)
    let error: unknown
    try {
      l.charge('client', 'a', 5)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(RateLimitedError)
    expect((error as RateLimitedError).status).toBe(429)
    expect((error as RateLimitedError).details).toEqual({ scope: 'client', retryAfterSeconds: 1 })
    // A refused request is not charged; the cost drains with time.
    expect(l.cost('client', 'a')).toBe(100)
    clock.now += 5_000
    expect(l.cost('client', 'a')).toBe(50)
    expect(l.charge('client', 'a', 1)).toBeGreaterThan(0)
    clock.now += 60_000
    expect(l.charge('client', 'a', 1)).toBe(0)
  })

  it('keeps keys and scopes apart', () => {
    const clock = { now: 0 }
    const l = limiter(clock)
    expect(() => l.charge('client', 'flood', 101)).toThrow(RateLimitedError)
    expect(l.charge('client', 'calm', 1)).toBe(0)
    expect(l.charge('subnet', 'flood', 1)).toBe(0)
  })

  it('refuses early without charging, counts delivered work that cannot be refused, and takes a plan’s own limits', () => {
    const clock = { now: 0 }
    const l = limiter(clock)
    l.refuseEarly('client', 'new', 1) // no account yet: nothing to refuse
    expect(l.cost('client', 'new')).toBe(0)
    expect(l.spend('client', 'a', 90)).toBe(0)
    expect(() => l.refuseEarly('client', 'a', 20)).toThrow(RateLimitedError)
    expect(l.cost('client', 'a')).toBe(90)
    expect(l.spend('client', 'a', 30)).toBe(2) // 20 over the hard limit at 10/s
    const plan = l.limitsOf('client', { costPerSecond: 1000, costBurst: 10_000 })
    expect(plan).toEqual({ perSecond: 1000, soft: 5000, hard: 10_000 })
    expect(l.charge('client', 'b', 4_000, plan)).toBe(0)
    expect(() => l.charge('client', 'b', 4_000)).toThrow(RateLimitedError) // the scope's limits
    clock.now += 1_000
    expect(l.cost('client', 'b')).toBe(3_990) // decays at the rate its account was last charged at
  })
})
