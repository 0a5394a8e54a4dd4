import type { Logger } from 'pino'
import { PLAN_NAME } from '../../config/parsePlans.js'
import type { PlanLimits, PlanQuota } from '../../config/planQuotas.js'
import type { Config } from '../../config/settings.js'
import { BaseError } from '../../errors/BaseError.js'

export class PlanNotFoundError extends BaseError {
  override readonly name = 'PlanNotFoundError'
  constructor(name: string, known: string[]) {
    super('PLAN_NOT_FOUND', `No plan "${name.slice(0, 40)}"; plans: ${known.join(', ')}`, {
      status: 404,
      details: { plans: known },
    })
  }
}

export class InvalidPlanNameError extends BaseError {
  override readonly name = 'InvalidPlanNameError'
  constructor(name: string) {
    super('INVALID_PLAN_NAME', `plan name "${name.slice(0, 40)}" must match ${PLAN_NAME}`, { status: 400 })
  }
}

/**
 * The plans of this instance: named sets of quotas from configuration (`Config.plans`, each filled
 * in from the default plan). Clients name their plan (`clients.plan`); a name no longer configured falls back to
 * the default plan rather than locking the client out. Runtime changes through the admin API live
 * in this instance's memory until the next start — configuration stays the source of truth.
 */
export class PlanBook {
  readonly #plans = new Map<string, PlanLimits>()

  constructor(
    config: Config,
    private readonly logger?: Logger,
  ) {
    for (const [name, limits] of Object.entries(config.plans)) this.#plans.set(name, limits)
  }

  names(): string[] {
    return [...this.#plans.keys()]
  }

  has(name: string): boolean {
    return this.#plans.has(name)
  }

  /** The limits of a plan; an unknown name gets the default plan's. */
  get(name: string): PlanLimits {
    return this.#plans.get(name) ?? this.#plans.get('default')!
  }

  /** Like `get`, but an unknown name is an error (for the admin API). */
  require(name: string): PlanLimits {
    const plan = this.#plans.get(name)
    if (!plan) throw new PlanNotFoundError(name, this.names())
    return plan
  }

  /** Creates a plan or changes some of its quotas, from now on, on this instance. */
  set(name: string, quotas: Partial<PlanLimits>): PlanLimits {
    if (!PLAN_NAME.test(name)) throw new InvalidPlanNameError(name)
    const plan = { ...(this.#plans.get(name) ?? this.#plans.get('default')!), ...quotas }
    this.#plans.set(name, plan)
    this.logger?.warn({ plan: name, quotas }, `plan ${name} changed through the admin API`)
    return plan
  }

  /** The largest value of a quota over every plan (for bounds that must be fixed at start). */
  max(quota: PlanQuota): number {
    return Math.max(...[...this.#plans.values()].map((plan) => plan[quota]))
  }

  list(): Record<string, PlanLimits> {
    return Object.fromEntries(this.#plans)
  }
}
