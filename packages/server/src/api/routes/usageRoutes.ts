import { type TInteger, Type } from '@sinclair/typebox'
import { readClientUsage } from '../../clients/usage/usageStore.js'
import { PLAN_QUOTAS } from '../../config/planQuotas.js'
import type { ApiInstance } from '../ApiInstance.js'
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
    backfillCalls: Type.Integer({ description: "Node calls made by the client's back-fills of history" }),
    stateReads: Type.Integer({
      description: 'Its share of the node reads its contract-state watches caused',
    }),
  }),
  stored: Type.Object({
    interests: Type.Integer(),
    filters: Type.Integer(),
    filterCost: Type.Integer({ description: 'Summed cost of the filters (bounded by limits.filterCost)' }),
    backlogItems: Type.Integer({ description: 'Items queued and not yet acknowledged' }),
    backlogBytes: Type.Integer(),
    walletStateBytes: Type.Integer(),
  }),
  limits: Type.Object(
    Object.fromEntries(PLAN_QUOTAS.map((quota) => [quota, Type.Integer()])) as Record<
      (typeof PLAN_QUOTAS)[number],
      TInteger
    >,
    { description: "The plan's quotas (see the plans setting)" },
  ),
})

/** `GET /v1/usage`: what the signed-in client has used and stored, and its plan's limits. */
export async function usageRoutes(app: ApiInstance, context: AppContext): Promise<void> {
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
      const { counters, stored } = await readClientUsage(db, client.idBytes)
      return {
        plan: stored.plan,
        usage: {
          requests: counters?.requests ?? 0,
          filterWork: counters?.filter_work ?? 0,
          itemsQueued: counters?.items_queued ?? 0,
          bytesQueued: counters?.bytes_queued ?? 0,
          bytesDelivered: counters?.bytes_delivered ?? 0,
          submissions: counters?.submissions ?? 0,
          backfillCalls: counters?.backfill_calls ?? 0,
          stateReads: counters?.state_reads ?? 0,
        },
        stored: {
          interests: stored.interests,
          filters: stored.filters,
          filterCost: stored.filter_cost,
          backlogItems: Number(stored.backlog_items),
          backlogBytes: Number(stored.backlog_bytes),
          walletStateBytes: Number(stored.wallet_state_bytes),
        },
        limits: client.plan,
      }
    },
  )
}
