import { parseJsonObject } from './parseJsonObject.js'
import { PLAN_QUOTAS, type PlanLimits, type PlanQuota } from './planQuotas.js'

/** Plans as configured: each names only the quotas it changes from the default plan. */
export type PlanOverrides = Record<string, Partial<PlanLimits>>

export const PLAN_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/

/** Validates one plan's quotas (a JSON object of quota → non-negative integer). */
export function parsePlanQuotas(raw: unknown, where: string): Partial<PlanLimits> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new TypeError(`${where} must be an object of quotas`)
  }
  const quotas: Partial<PlanLimits> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (!(PLAN_QUOTAS as readonly string[]).includes(key)) {
      throw new TypeError(`${where} has unknown quota "${key}"; quotas: ${PLAN_QUOTAS.join(', ')}`)
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new TypeError(`${where}.${key} must be a non-negative integer`)
    }
    quotas[key as PlanQuota] = value
  }
  return quotas
}

/** The `plans` setting: a JSON object (a string from a flag or the environment) of named plans. */
export function parsePlans(raw: unknown): PlanOverrides {
  const value = parseJsonObject(raw, 'plans')
  const plans: PlanOverrides = {}
  for (const [name, quotas] of Object.entries(value)) {
    if (!PLAN_NAME.test(name)) throw new TypeError(`plan name "${name.slice(0, 40)}" must match ${PLAN_NAME}`)
    plans[name] = parsePlanQuotas(quotas, `plan "${name}"`)
  }
  return plans
}
