import type { FastifyInstance } from 'fastify'
import { BaseError } from '../../errors/BaseError.js'

export class NonFiniteNumberError extends BaseError {
  override readonly name = 'NonFiniteNumberError'
  constructor(path: string) {
    super('INVALID_REQUEST', `${path} must be a finite number`, {
      status: 400,
      details: { issues: [{ path, message: 'must be a finite number' }] },
    })
  }
}

/** Depth to which a body is searched; deeper values are not numbers any schema of ours declares. */
const MAX_DEPTH = 8

/**
 * Ajv coerces a string such as "1e400" or "Infinity" to Infinity wherever a schema wants a number
 * — in a query, a path and a JSON body alike (`{"limit": "1e400"}`) — and then skips
 * `minimum`/`maximum` for it (they only test finite numbers), so every integer field would let
 * Infinity through to the handlers. The validated values are checked once more here.
 */
export function refuseNonFiniteNumbers(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    for (const [part, values] of [
      ['querystring', request.query],
      ['params', request.params],
      ['body', request.body],
    ] as const) {
      const path = nonFinite(values, part, 0)
      if (path) throw new NonFiniteNumberError(path)
    }
  })
}

/** The path of the first non-finite number in `value`, if any. */
function nonFinite(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path
  if (!value || typeof value !== 'object' || depth >= MAX_DEPTH || ArrayBuffer.isView(value)) return undefined
  for (const [key, item] of Object.entries(value)) {
    const found = nonFinite(item, `${path}/${key}`, depth + 1)
    if (found) return found
  }
  return undefined
}
