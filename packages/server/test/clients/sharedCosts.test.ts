import { pino } from 'pino'
import { Registry } from 'prom-client'
import { expect, it } from 'vitest'
import { CostLimiter, RateLimitedError } from '../../src/clients/abuse/CostLimiter.js'
import { describeEachDriver } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const limits = { perSecond: 1, soft: 50, hard: 100 }
const limiter = () =>
  new CostLimiter(
    { client: limits, subnet: limits },
    { logger: pino({ level: 'silent' }), metrics: new Registry() },
  )

describeEachDriver('cost accounts shared through the database', (storage) => {
  it('gives a key one budget over two limiters: each sees what the other charged, and refuses on the total', async () => {
    const [one, two] = [limiter(), limiter()]
    one.share(storage().db, 50)
    two.share(storage().db, 50)
    try {
      one.charge('client', 'spread', 60)
      two.charge('client', 'spread', 30)
      // Each alone is under its hard limit; together they are at 90 (less what drained since).
      await waitUntil(
        () => one.cost('client', 'spread') > 85 && two.cost('client', 'spread') > 85,
        10_000,
        'both limiters to see the total',
      )
      expect(() => two.charge('client', 'spread', 20)).toThrow(RateLimitedError)
      expect(() => one.charge('client', 'spread', 20)).toThrow(RateLimitedError)
      // Another key is not touched by this one's cost.
      expect(one.charge('client', 'calm', 1)).toBe(0)
      expect(two.cost('client', 'calm')).toBe(0)
    } finally {
      await one.stopSharing()
      await two.stopSharing()
    }
    const rows = await storage()
      .db.selectFrom('cost_accounts')
      .select(['key', 'cost'])
      .where('key', '=', 'client:spread')
      .execute()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.cost).toBeGreaterThan(80)
  })
})
