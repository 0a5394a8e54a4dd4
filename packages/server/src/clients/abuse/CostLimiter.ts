import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { BaseError } from '../../errors/BaseError.js'

export type CostScope = 'client' | 'subnet'

export type CostLimits = {
  /** Units forgiven per second. */
  perSecond: number
  /** Above this, requests are slowed down. */
  soft: number
  /** Above this, requests are refused with 429. */
  hard: number
}

export class RateLimitedError extends BaseError {
  override readonly name = 'RateLimitedError'
  constructor(scope: CostScope, retryAfterSeconds: number) {
    super('RATE_LIMITED', `Too many requests from this ${scope}; retry in ${retryAfterSeconds} s`, {
      status: 429,
      details: { scope, retryAfterSeconds },
    })
  }
}

type Account = { cost: number; at: number; throttled: boolean }

const MAX_ACCOUNTS = 200_000
const MAX_DELAY_MS = 2_000

/**
 * Decaying cost per client and per IP subnet: every request (and stream, filter evaluation,
 * delivered byte) adds units, which drain at `perSecond`. Above `soft` a request is slowed down in
 * proportion, above `hard` it is refused with 429 and a Retry-After saying when it would pass.
 * A key that is throttled is logged once per episode and counted, so operators see who and why.
 */
export class CostLimiter {
  readonly #accounts = new Map<string, Account>()
  readonly #throttled: Counter<'scope'>
  readonly #log: Logger

  constructor(
    private readonly limits: Record<CostScope, CostLimits>,
    options: { logger: Logger; metrics: Registry },
    private readonly now: () => number = Date.now,
  ) {
    this.#log = options.logger.child({ component: 'abuse' })
    this.#throttled = new Counter({
      name: 'wallet_backend_throttled_total',
      help: 'Requests slowed down or refused by cost limits, by scope',
      labelNames: ['scope'],
      registers: [options.metrics],
    })
  }

  /** The current cost of a key, after decay. */
  cost(scope: CostScope, key: string): number {
    const account = this.#accounts.get(`${scope}:${key}`)
    return account ? this.#decayed(scope, account) : 0
  }

  /**
   * Adds `units` to the key's cost. Returns how long to delay the request (0 when under the soft
   * limit); throws RateLimitedError above the hard limit, without charging the refused request.
   */
  charge(scope: CostScope, key: string, units: number): number {
    const limits = this.limits[scope]
    const id = `${scope}:${key}`
    let account = this.#accounts.get(id)
    if (!account) {
      if (this.#accounts.size >= MAX_ACCOUNTS) this.#evict()
      account = { cost: 0, at: this.now(), throttled: false }
      this.#accounts.set(id, account)
    }
    const current = this.#decayed(scope, account)
    account.at = this.now()
    if (current + units > limits.hard) {
      account.cost = current
      this.#throttle(scope, key, account, current)
      throw new RateLimitedError(
        scope,
        Math.max(1, Math.ceil((current + units - limits.hard) / limits.perSecond)),
      )
    }
    account.cost = current + units
    if (account.cost <= limits.soft) {
      account.throttled = false
      return 0
    }
    this.#throttle(scope, key, account, account.cost)
    return Math.min(MAX_DELAY_MS, ((account.cost - limits.soft) / limits.perSecond) * 1000)
  }

  #decayed(scope: CostScope, account: Account): number {
    return Math.max(0, account.cost - ((this.now() - account.at) / 1000) * this.limits[scope].perSecond)
  }

  #throttle(scope: CostScope, key: string, account: Account, cost: number): void {
    this.#throttled.inc({ scope })
    if (account.throttled) return
    account.throttled = true
    this.#log.warn(
      { scope, key, cost: Math.round(cost), limits: this.limits[scope] },
      `throttling ${scope} ${key}`,
    )
  }

  /** Forgets the accounts that have drained, or the oldest half when none has. */
  #evict(): void {
    for (const [id, account] of this.#accounts) {
      const scope = id.split(':')[0] as CostScope
      if (this.#decayed(scope, account) === 0) this.#accounts.delete(id)
    }
    if (this.#accounts.size < MAX_ACCOUNTS) return
    let drop = this.#accounts.size / 2
    for (const id of this.#accounts.keys()) {
      if (drop-- <= 0) break
      this.#accounts.delete(id)
    }
  }
}
