import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { Counter, type Registry } from 'prom-client'
import { BaseError } from '../../errors/BaseError.js'
import type { DB } from '../../storage/schema.js'
import { type CostDelta, forgetDrainedCosts, publishCosts } from './sharedCostStore.js'

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

type Account = {
  cost: number
  at: number
  throttled: boolean
  perSecond: number
  /** Units charged here and not yet published to the shared account (when shared). */
  unpublished: number
  /** When this instance last charged the key: it is served here while that is recent. */
  usedAt: number
}

type Sharing = {
  db: Kysely<DB>
  timer: NodeJS.Timeout
  /** The publish under way, if any; the next one waits for it. */
  round: Promise<void>
  rounds: number
  failing: boolean
}

const MAX_ACCOUNTS = 200_000
const MAX_DELAY_MS = 2_000
/** A key not charged here for this long is no longer kept in step with the shared account. */
const SERVED_FOR_MS = 30_000
/** Keys per statement when publishing. */
const PUBLISH_BATCH = 1_000
/** Publishes between two deletions of drained shared accounts. */
const FORGET_EVERY = 120

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
  #sharing:
    | { db: Kysely<DB>; timer: NodeJS.Timeout; round: Promise<void>; rounds: number; failing: boolean }
    | undefined

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
    this.#used(account, units)
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
    this.#used(account, units)
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
    this.#used(account, units)
  }

  /**
   * Shares the accounts with the other instances on `db`: every `intervalMs` the units charged
   * here since the last time are added to each key's row in one statement, which answers with
   * the key's total over all instances; that total becomes this instance's view. So a client
   * spread over several instances has about one budget, late by at most an interval, and no
   * request waits for the database. Keys charged here lately are kept in step even when idle.
   */
  share(db: Kysely<DB>, intervalMs = 500): void {
    if (this.#sharing) return
    const timer = setInterval(() => {
      const sharing = this.#sharing
      if (!sharing) return
      sharing.round = sharing.round.then(() => this.#publish(sharing))
    }, intervalMs)
    timer.unref()
    this.#sharing = { db, timer, round: Promise.resolve(), rounds: 0, failing: false }
  }

  /** Stops sharing after a last publish of what was charged here. */
  async stopSharing(): Promise<void> {
    const sharing = this.#sharing
    if (!sharing) return
    this.#sharing = undefined
    clearInterval(sharing.timer)
    await sharing.round
    await this.#publish(sharing)
  }

  #used(account: Account, units: number): void {
    account.usedAt = this.now()
    if (this.#sharing) account.unpublished += units
  }

  async #publish(sharing: Sharing): Promise<void> {
    const now = this.now()
    const taken: { id: string; account: Account; delta: CostDelta }[] = []
    for (const [id, account] of this.#accounts) {
      if (account.unpublished === 0 && now - account.usedAt > SERVED_FOR_MS) continue
      taken.push({
        id,
        account,
        delta: { key: id, units: account.unpublished, perSecond: account.perSecond },
      })
      account.unpublished = 0
    }
    try {
      for (let i = 0; i < taken.length; i += PUBLISH_BATCH) {
        const batch = taken.slice(i, i + PUBLISH_BATCH)
        const totals = await publishCosts(
          sharing.db,
          batch.map((t) => t.delta),
        )
        for (const { id, account, delta } of batch) {
          const total = totals.get(id)
          delta.units = 0 // published
          if (total === undefined) continue
          // What was charged here while the statement ran is not in the total yet.
          account.cost = total + account.unpublished
          account.at = this.now()
        }
      }
      if (++sharing.rounds % FORGET_EVERY === 0) await forgetDrainedCosts(sharing.db)
      if (sharing.failing) this.#log.info('shared cost accounts written again')
      sharing.failing = false
    } catch (error) {
      // Kept to be published next time; meanwhile each instance counts on its own.
      for (const { account, delta } of taken) account.unpublished += delta.units
      if (!sharing.failing) this.#log.warn({ err: error }, 'could not write the shared cost accounts')
      sharing.failing = true
    }
  }

  #account(scope: CostScope, key: string, limits: CostLimits): Account {
    const id = `${scope}:${key}`
    let account = this.#accounts.get(id)
    if (!account) {
      if (this.#accounts.size >= MAX_ACCOUNTS) this.#evict()
      account = {
        cost: 0,
        at: this.now(),
        throttled: false,
        perSecond: limits.perSecond,
        unpublished: 0,
        usedAt: this.now(),
      }
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
