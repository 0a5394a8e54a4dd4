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

type Account = { cost: number; at: number; throttled: boolean; perSecond: number }

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
    return account ? this.#decayed(account) : 0
  }

  /** The limits of a scope, or of one client's plan. */
  limitsOf(scope: CostScope, plan?: { costPerSecond: number; costBurst: number }): CostLimits {
    if (!plan) return this.limits[scope]
    return { perSecond: Math.max(1, plan.costPerSecond), soft: plan.costBurst / 2, hard: plan.costBurst }
  }

  /**
   * Adds `units` to the key's cost. Returns how long to delay the request (0 when under the soft
   * limit); throws RateLimitedError above the hard limit, without charging the refused request.
   * `limits` are the key's own (a client's plan), else the scope's.
   */
  charge(scope: CostScope, key: string, units: number, limits: CostLimits = this.limits[scope]): number {
    const account = this.#account(scope, key, limits)
    const current = this.#decayed(account)
    account.at = this.now()
    if (current + units > limits.hard) {
      account.cost = current
      this.#throttle(scope, key, account, current, limits)
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
    this.#throttle(scope, key, account, account.cost, limits)
    return Math.min(MAX_DELAY_MS, ((account.cost - limits.soft) / limits.perSecond) * 1000)
  }

  /**
   * Refuses (RateLimitedError) what `charge` would refuse, without charging or creating an
   * account: for turning a flood away before any work is done for it.
   */
  refuseEarly(scope: CostScope, key: string, units: number, limits: CostLimits = this.limits[scope]): void {
    const account = this.#accounts.get(`${scope}:${key}`)
    if (!account) return
    const current = this.#decayed(account)
    if (current + units > limits.hard) {
      this.#throttled.inc({ scope })
      throw new RateLimitedError(
        scope,
        Math.max(1, Math.ceil((current + units - limits.hard) / limits.perSecond)),
      )
    }
  }

  /**
   * Adds the cost of work already done (bytes pushed down a stream), which cannot be refused.
   * Returns the seconds until the key is under its hard limit again: 0 while it is, so a stream
   * can be closed with a reason as soon as its client is over.
   */
  spend(scope: CostScope, key: string, units: number, limits: CostLimits = this.limits[scope]): number {
    const account = this.#account(scope, key, limits)
    account.cost = this.#decayed(account) + units
    account.at = this.now()
    if (account.cost <= limits.hard) return 0
    this.#throttle(scope, key, account, account.cost, limits)
    return Math.max(1, Math.ceil((account.cost - limits.hard) / limits.perSecond))
  }

  /**
   * Adds the cost of work done for a key away from its requests (its filters matched in a block),
   * at the rate its account already decays at; its next request pays for it.
   */
  addCost(scope: CostScope, key: string, units: number): void {
    const account = this.#accounts.get(`${scope}:${key}`) ?? this.#account(scope, key, this.limits[scope])
    account.cost = this.#decayed(account) + units
    account.at = this.now()
  }

  #account(scope: CostScope, key: string, limits: CostLimits): Account {
    const id = `${scope}:${key}`
    let account = this.#accounts.get(id)
    if (!account) {
      if (this.#accounts.size >= MAX_ACCOUNTS) this.#evict()
      account = { cost: 0, at: this.now(), throttled: false, perSecond: limits.perSecond }
      this.#accounts.set(id, account)
    } else if (account.perSecond !== limits.perSecond) {
      // A plan changed: decay so far at the old rate, from now on at the new one.
      account.cost = this.#decayed(account)
      account.at = this.now()
      account.perSecond = limits.perSecond
    }
    return account
  }

  #decayed(account: Account): number {
    return Math.max(0, account.cost - ((this.now() - account.at) / 1000) * account.perSecond)
  }

  #throttle(scope: CostScope, key: string, account: Account, cost: number, limits: CostLimits): void {
    this.#throttled.inc({ scope })
    if (account.throttled) return
    account.throttled = true
    this.#log.warn({ scope, key, cost: Math.round(cost), limits }, `throttling ${scope} ${key}`)
  }

  /** Forgets the accounts that have drained, or the oldest half when none has. */
  #evict(): void {
    for (const [id, account] of this.#accounts) {
      if (this.#decayed(account) === 0) this.#accounts.delete(id)
    }
    if (this.#accounts.size < MAX_ACCOUNTS) return
    let drop = this.#accounts.size / 2
    for (const id of this.#accounts.keys()) {
      if (drop-- <= 0) break
      this.#accounts.delete(id)
    }
  }
}
