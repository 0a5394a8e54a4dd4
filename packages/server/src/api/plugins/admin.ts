import { timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { makeDormant } from '../../clients/lifecycle/clientStages.js'
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

const ClientParams = Type.Object({ id: Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' }) })
const ClientsQuery = Type.Object(
  { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })), stage: Type.Optional(Type.String()) },
  { additionalProperties: false },
)

class ClientNotFoundError extends BaseError {
  override readonly name = 'ClientNotFoundError'
  constructor(id: string) {
    super('CLIENT_NOT_FOUND', `No client ${id}`, { status: 404 })
  }
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

  app.get(
    '/clients',
    {
      schema: {
        tags: ['admin'],
        summary: 'Clients with their stage, last contact and usage, most recently seen first',
        security,
        querystring: ClientsQuery,
        response: {
          200: Type.Object({ clients: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
          ...errorResponses(401),
        },
      },
    },
    async (request) => {
      const { limit = 100, stage } = request.query as { limit?: number; stage?: string }
      let query = context
        .runtime()
        .db.selectFrom('clients as c')
        .leftJoin('client_usage as u', 'u.client_id', 'c.id')
        .select([
          'c.id',
          'c.plan',
          'c.stage',
          'c.created_at',
          'c.last_seen_at',
          'c.acked_cursor',
          'c.next_cursor',
          'u.requests',
          'u.filter_work',
          'u.items_queued',
          'u.bytes_delivered',
        ])
        .orderBy('c.last_seen_at', 'desc')
        .limit(limit)
      if (stage === 'active' || stage === 'dormant' || stage === 'pruned')
        query = query.where('c.stage', '=', stage)
      const rows = await query.execute()
      return {
        clients: rows.map((row) => ({
          id: bytesToHex(row.id),
          plan: row.plan,
          stage: row.stage,
          createdAt: row.created_at.toISOString(),
          lastSeenAt: row.last_seen_at.toISOString(),
          backlog: row.next_cursor - 1 - row.acked_cursor,
          usage: {
            requests: row.requests ?? 0,
            filterWork: row.filter_work ?? 0,
            itemsQueued: row.items_queued ?? 0,
            bytesDelivered: row.bytes_delivered ?? 0,
          },
        })),
      }
    },
  )

  app.post(
    '/clients/:id/dormant',
    {
      schema: {
        tags: ['admin'],
        summary:
          'Make a client dormant: no more matching or queuing; it gets a gap item when it signs in again',
        security,
        params: ClientParams,
        response: { 200: Type.Object({ stage: Type.String() }), ...errorResponses(401, 404) },
      },
    },
    async (request) => {
      const { id } = request.params as { id: string }
      const runtime = context.runtime()
      const done = await makeDormant(runtime, id.toLowerCase() as Hex, runtime.follower.snapshot().head)
      if (!done) {
        const exists = await runtime.db
          .selectFrom('clients')
          .select('stage')
          .where('id', '=', hexToBytes(id as Hex))
          .executeTakeFirst()
        if (!exists) throw new ClientNotFoundError(id)
      }
      return { stage: 'dormant' }
    },
  )

  app.delete(
    '/clients/:id',
    {
      schema: {
        tags: ['admin'],
        summary: 'Prune a client: delete it and everything of its own',
        security,
        params: ClientParams,
        response: { 204: Type.Null(), ...errorResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const runtime = context.runtime()
      const gone = await runtime.db
        .deleteFrom('clients')
        .where('id', '=', hexToBytes(id as Hex))
        .executeTakeFirst()
      if (gone.numDeletedRows === 0n) throw new ClientNotFoundError(id)
      runtime.filters.removeClient(id.toLowerCase() as Hex)
      runtime.contractState.index.removeClient(id.toLowerCase() as Hex)
      return reply.status(204).send()
    },
  )
}
