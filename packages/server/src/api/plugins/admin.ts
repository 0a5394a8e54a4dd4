import { timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { BaseError } from '../../errors/BaseError.js'
import { LOG_LEVELS } from '../../observability/createLogger.js'
import type { AppContext } from '../AppContext.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

export class AdminUnauthorizedError extends BaseError {
  override readonly name = 'AdminUnauthorizedError'
  constructor() {
    super('ADMIN_UNAUTHORIZED', 'The admin API needs "Authorization: Bearer <admin token>"', { status: 401 })
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice('Bearer '.length))
  const expected = Buffer.from(token)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

const LogLevelBody = Type.Object({ level: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level))) })

/** The operator API under /admin, behind the admin token. */
export async function adminRoutes(app: FastifyInstance, context: AppContext): Promise<void> {
  app.addHook('onRequest', async (request) => {
    if (!tokenMatches(request.headers.authorization, context.adminToken)) throw new AdminUnauthorizedError()
  })

  const security = [{ adminToken: [] }]

  app.get(
    '/log-level',
    { schema: { tags: ['admin'], security, response: { 200: LogLevelBody, ...errorResponses(401) } } },
    async () => ({ level: context.logger.level as (typeof LOG_LEVELS)[number] }),
  )

  app.put(
    '/log-level',
    {
      schema: {
        tags: ['admin'],
        summary: 'Change the log level at runtime',
        security,
        body: LogLevelBody,
        response: { 200: LogLevelBody, ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { level } = request.body as { level: (typeof LOG_LEVELS)[number] }
      const previous = context.logger.level
      context.setLogLevel(level)
      context.logger.warn(
        { previousLevel: previous, newLevel: level },
        `log level changed to ${level} through the admin API`,
      )
      return { level }
    },
  )
}
