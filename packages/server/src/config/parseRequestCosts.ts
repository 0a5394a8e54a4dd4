import { parseJsonObject } from './parseJsonObject.js'

/** Cost units a request of each route class charges its client and its IP subnet. */
export type RequestCosts = { read: number; write: number; auth: number; stream: number; proof: number }

export const DEFAULT_REQUEST_COSTS: RequestCosts = { read: 1, write: 3, auth: 5, stream: 5, proof: 5 }

/** `{"read": 1, …}` (or its JSON text): the classes given replace the defaults, each 0 to 10,000. */
export function parseRequestCosts(raw: unknown): RequestCosts {
  const value = parseJsonObject(raw, 'route classes and their costs')
  const costs = { ...DEFAULT_REQUEST_COSTS }
  for (const [name, cost] of Object.entries(value)) {
    if (!(name in costs)) {
      throw new TypeError(
        `unknown route class "${name.slice(0, 40)}"; one of ${Object.keys(costs).join(', ')}`,
      )
    }
    if (!Number.isInteger(cost) || (cost as number) < 0 || (cost as number) > 10_000) {
      throw new TypeError(`the cost of ${name} must be an integer from 0 to 10000`)
    }
    costs[name as keyof RequestCosts] = cost as number
  }
  return costs
}
