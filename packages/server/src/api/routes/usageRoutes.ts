import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import type { AppContext } from '../AppContext.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

const Usage = Type.Object({
  plan: Type.String(),
  usage: Type.Object({
    requests: Type.Integer(),
    filterWork: Type.Integer({ description: 'Filter evaluations, weighted by filter cost' }),
    itemsQueued: Type.Integer(),
    bytesQueued: Type.Integer(),
    bytesDelivered: Type.Integer(),
    submissions: Type.Integer(),
  }),
  stored: Type.Object({
    interests: Type.Integer(),
    filters: Type.Integer(),
    backlogItems: Type.Integer({ description: 'Items queued and not yet acknowledged' }),
    backlogBytes: Type.Integer(),
    walletStateBytes: Type.Integer(),
  }),
  limits: Type.Object({
    costPerSecond: Type.Integer(),
    costBurst: Type.Integer(),
    interests: Type.Integer(),
    filtersPerInterest: Type.Integer(),
    walletStateBytes: Type.Integer(),
  }),
})

/** `GET /v1/usage`: what the signed-in client has used and stored, and its plan's limits. */
export async function usageRoutes(app: FastifyInstance, context: AppContext): Promise<void> {
  requireSession(app, context)
  app.get(
    '/',
    {
      schema: {
        tags: ['usage'],
        summary: 'Metered usage, stored data and limits of the signed-in client',
        security: [{ session: [] }],
        response: { 200: Usage, ...errorResponses(401, 503) },
      },
    },
    async (request) => {
      const client = sessionOf(request)
      const { db, usage } = context.runtime()
      await usage.flush()
      const counters = await db
        .selectFrom('client_usage')
        .selectAll()
        .where('client_id', '=', client.idBytes)
        .executeTakeFirst()
      const { rows } = await sql<{
        plan: string
        interests: number
        filters: number
        backlog_items: number
        backlog_bytes: number
        wallet_state_bytes: number
      }>`
        select c.plan,
          (select count(*) from client_contracts i where i.client_id = c.id)::int as interests,
          (select count(*) from client_tx_filters f where f.client_id = c.id)::int as filters,
          (select count(*) from client_deliveries d where d.client_id = c.id and d.cursor > c.acked_cursor)::int as backlog_items,
          (select coalesce(sum(d.bytes), 0) from client_deliveries d where d.client_id = c.id and d.cursor > c.acked_cursor)::bigint as backlog_bytes,
          (select coalesce(octet_length(w.data), 0) from wallet_states w where w.client_id = c.id)::bigint as wallet_state_bytes
        from clients c where c.id = ${client.idBytes}`.execute(db)
      const stored = rows[0]!
      return {
        plan: stored.plan,
        usage: {
          requests: counters?.requests ?? 0,
          filterWork: counters?.filter_work ?? 0,
          itemsQueued: counters?.items_queued ?? 0,
          bytesQueued: counters?.bytes_queued ?? 0,
          bytesDelivered: counters?.bytes_delivered ?? 0,
          submissions: counters?.submissions ?? 0,
        },
        stored: {
          interests: stored.interests,
          filters: stored.filters,
          backlogItems: stored.backlog_items,
          backlogBytes: Number(stored.backlog_bytes),
          walletStateBytes: Number(stored.wallet_state_bytes),
        },
        limits: {
          costPerSecond: context.config.clientCostPerSecond,
          costBurst: context.config.clientCostBurst,
          interests: context.config.maxInterestsPerClient,
          filtersPerInterest: context.config.maxFiltersPerInterest,
          walletStateBytes: context.config.walletStateMaxBytes,
        },
      }
    },
  )
}
