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

/**
 * Ajv coerces a query or path string such as "1e400" or "Infinity" to Infinity and then skips
 * `minimum`/`maximum` for it (they only test finite numbers), so every integer parameter would
 * let Infinity through to the handlers. The validated values are checked once more here; bodies
 * need no check, JSON numbers are not coerced and Ajv refuses a non-finite one.
 */
export function refuseNonFiniteNumbers(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    for (const [part, values] of [
      ['querystring', request.query],
      ['params', request.params],
    ] as const) {
      if (!values || typeof values !== 'object') continue
      for (const [name, value] of Object.entries(values)) {
        const items: unknown[] = Array.isArray(value) ? value : [value]
        if (items.some((item) => typeof item === 'number' && !Number.isFinite(item))) {
          throw new NonFiniteNumberError(`${part}/${name}`)
        }
      }
    }
  })
}
