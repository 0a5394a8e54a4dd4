import { Type } from '@sinclair/typebox'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import { subnetOf } from '../../clients/abuse/subnetOf.js'
import {
  type ClientWithUsage,
  findClientWithUsage,
  listClients,
  setClientPlan,
} from '../../clients/clientDirectory.js'
import { makeDormant } from '../../clients/lifecycle/clientStages.js'
import { deleteClient, pruneClient } from '../../clients/lifecycle/pruneClient.js'
import { PLAN_NAME } from '../../config/parsePlans.js'
import { PLAN_QUOTAS, type PlanLimits } from '../../config/planQuotas.js'
import { BaseError } from '../../errors/BaseError.js'
import { LOG_LEVELS } from '../../observability/createLogger.js'
import type { ClientStage } from '../../storage/schema.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext, LeaderRuntime, SharedRuntime } from '../AppContext.js'
import { sameSecret } from '../plugins/sameSecret.js'
import { errorResponses } from '../schemas/ErrorResponse.js'
import { adminConsoleRoutes } from './adminConsole.js'

export class AdminUnauthorizedError extends BaseError {
  override readonly name = 'AdminUnauthorizedError'
  constructor() {
    super('ADMIN_UNAUTHORIZED', 'The admin API needs "Authorization: Bearer <admin token>"', { status: 401 })
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  return header?.startsWith('Bearer ') === true && sameSecret(header.slice('Bearer '.length), token)
}

const ClientParams = Type.Object({ id: Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' }) })
const ClientsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    offset: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Skip this many (paging)' }),
    ),
    stage: Type.Optional(Type.Union(['active', 'dormant', 'pruned'].map((stage) => Type.Literal(stage)))),
    plan: Type.Optional(Type.String({ maxLength: 32 })),
    idPrefix: Type.Optional(
      Type.String({ pattern: '^(0x)?[0-9a-fA-F]{1,40}$', description: 'Clients whose id starts with this' }),
    ),
    seenBefore: Type.Optional(Type.String({ format: 'date-time', description: 'Last contact before' })),
    seenAfter: Type.Optional(Type.String({ format: 'date-time', description: 'Last contact after' })),
  },
  { additionalProperties: false },
)
const PlanName = Type.String({ pattern: PLAN_NAME.source })
const PlanBody = Type.Object({ plan: PlanName }, { additionalProperties: false })
const PlanParams = Type.Object({ name: PlanName })
const Quotas = Type.Object(
  Object.fromEntries(
    PLAN_QUOTAS.map((quota) => [
      quota,
      Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    ]),
  ),
  { additionalProperties: false },
)
const Limits = Type.Object(Object.fromEntries(PLAN_QUOTAS.map((quota) => [quota, Type.Integer()])))
const ClientSummary = Type.Object({
  id: Type.String(),
  plan: Type.String(),
  stage: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  stageChangedAt: Type.String({ format: 'date-time' }),
  backlog: Type.Object({ items: Type.Integer(), bytes: Type.Integer() }),
  usage: Type.Record(Type.String(), Type.Integer()),
})

export class ClientNotFoundError extends BaseError {
  override readonly name = 'ClientNotFoundError'
  constructor(id: string) {
    super('CLIENT_NOT_FOUND', `No client ${id}`, { status: 404 })
  }
}

const LogLevelBody = Type.Object({ level: Type.Union(LOG_LEVELS.map((level) => Type.Literal(level))) })

/** The operator API under /admin, behind the admin token. */
export async function adminRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  // Failed authentications are counted per IP subnet, in an account of their own: a burst of
  // the configured number, that many a minute after it. A subnet over it is refused every admin
  // request, the right token included, until it has drained: guessing is bounded, not just slowed.
  const failures = context.config.adminAuthFailuresPerMinute
  const failureLimits = { perSecond: failures / 60, soft: failures, hard: failures }
  app.addHook('onRequest', async (request) => {
    if (request.forwarded) return
    const key = `admin-auth:${subnetOf(request.ip)}`
    context.limiter.refuseEarly('subnet', key, 1, failureLimits)
    if (!tokenMatches(request.headers.authorization, context.adminToken)) {
      context.limiter.charge('subnet', key, 1, failureLimits)
      throw new AdminUnauthorizedError()
    }
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

  const summary = (row: ClientWithUsage) => ({
    id: bytesToHex(row.id),
    plan: row.plan,
    stage: row.stage,
    createdAt: row.created_at.toISOString(),
    lastSeenAt: row.last_seen_at.toISOString(),
    stageChangedAt: row.stage_changed_at.toISOString(),
    backlog: { items: row.backlog_items, bytes: row.backlog_bytes },
    usage: {
      requests: row.requests ?? 0,
      filterWork: row.filter_work ?? 0,
      itemsQueued: row.items_queued ?? 0,
      bytesQueued: row.bytes_queued ?? 0,
      bytesDelivered: row.bytes_delivered ?? 0,
      submissions: row.submissions ?? 0,
      workWhileAbsent: row.work_while_absent ?? 0,
      backfillCalls: row.backfill_calls ?? 0,
      stateReads: row.state_reads ?? 0,
    },
  })
  const found = async (runtime: SharedRuntime, id: string) => {
    const row = await findClientWithUsage(runtime.db, hexToBytes(id as Hex))
    if (!row) throw new ClientNotFoundError(id)
    return row
  }

  app.get(
    '/clients',
    {
      schema: {
        tags: ['admin'],
        summary:
          'Clients with their stage, plan, backlog and usage, most recently seen first; filters combine',
        security,
        querystring: ClientsQuery,
        response: {
          200: Type.Object({ clients: Type.Array(ClientSummary) }),
          ...errorResponses(400, 401, 503),
        },
      },
    },
    async (request) => {
      const q = request.query
      const runtime = context.runtime()
      await runtime.usage.flush()
      const rows = await listClients(runtime.db, {
        limit: q.limit ?? 100,
        offset: q.offset ?? 0,
        ...(q.stage ? { stage: q.stage as ClientStage } : {}),
        ...(q.plan ? { plan: q.plan } : {}),
        ...(q.seenBefore ? { seenBefore: new Date(q.seenBefore) } : {}),
        ...(q.seenAfter ? { seenAfter: new Date(q.seenAfter) } : {}),
        ...(q.idPrefix ? { idPrefix: q.idPrefix } : {}),
      })
      return { clients: rows.map(summary) }
    },
  )

  app.get(
    '/clients/:id',
    {
      schema: {
        tags: ['admin'],
        summary: "One client with its usage and its plan's limits",
        security,
        params: ClientParams,
        response: {
          200: Type.Composite([ClientSummary, Type.Object({ limits: Limits })]),
          ...errorResponses(401, 404, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params
      const runtime = context.runtime()
      await runtime.usage.flush()
      const row = await found(runtime, id)
      return { ...summary(row), limits: context.plans.get(row.plan) }
    },
  )

  app.put(
    '/clients/:id/plan',
    {
      schema: {
        tags: ['admin'],
        summary: 'Assign a configured plan to a client (applies from its next request on)',
        security,
        params: ClientParams,
        body: PlanBody,
        response: {
          200: Type.Object({ plan: Type.String(), limits: Limits }),
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { id } = request.params
      const { plan } = request.body
      const limits = context.plans.require(plan)
      if (!(await setClientPlan(context.runtime().db, hexToBytes(id as Hex), plan)))
        throw new ClientNotFoundError(id)
      context.logger.warn({ client: id.toLowerCase(), plan }, `plan ${plan} assigned through the admin API`)
      return { plan, limits }
    },
  )

  /** A route that moves a client to a stage by hand; it answers the stage the client is in. */
  const stageRoute = (
    stage: 'dormant' | 'pruned',
    summary: string,
    move: (runtime: LeaderRuntime, id: Hex) => Promise<boolean>,
  ) =>
    app.post(
      `/clients/:id/${stage === 'dormant' ? 'dormant' : 'prune'}`,
      {
        config: { leaderOnly: true },
        schema: {
          tags: ['admin'],
          summary,
          security,
          params: ClientParams,
          response: { 200: Type.Object({ stage: Type.String() }), ...errorResponses(401, 404, 503) },
        },
      },
      async (request) => {
        const { id } = request.params
        const runtime = context.leader()
        if (await move(runtime, id.toLowerCase() as Hex)) {
          context.transitions?.count(stage, 'admin')
          return { stage }
        }
        return { stage: (await found(runtime, id)).stage }
      },
    )
  stageRoute(
    'dormant',
    'Make a client dormant: no more matching or queuing; it gets a gap item when it is back',
    (runtime, id) => makeDormant(runtime, id),
  )
  stageRoute(
    'pruned',
    'Prune a client: delete all it owns but its identity, usage and wallet state (kept for the wallet-state retention)',
    (runtime, id) => pruneClient(runtime, id),
  )

  app.delete(
    '/clients/:id',
    {
      config: { leaderOnly: true },
      schema: {
        tags: ['admin'],
        summary: 'Delete a client and everything of its own, wallet state included',
        security,
        params: ClientParams,
        response: { 204: Type.Null(), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const { id } = request.params
      if (!(await deleteClient(context.leader(), id.toLowerCase() as Hex))) throw new ClientNotFoundError(id)
      context.transitions?.count('deleted', 'admin')
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/plans',
    {
      schema: {
        tags: ['admin'],
        summary: 'The plans of this instance and their limits',
        security,
        response: { 200: Type.Object({ plans: Type.Record(Type.String(), Limits) }), ...errorResponses(401) },
      },
    },
    async () => ({ plans: context.plans.list() }),
  )

  app.put(
    '/plans/:name',
    {
      schema: {
        tags: ['admin'],
        summary:
          'Create a plan or change some of its limits at runtime, on this instance, until the next start',
        security,
        params: PlanParams,
        body: Quotas,
        response: { 200: Type.Object({ plan: Type.String(), limits: Limits }), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const { name } = request.params
      const limits = context.plans.set(name, request.body as Partial<PlanLimits>)
      return { plan: name, limits }
    },
  )

  await adminConsoleRoutes(app, context)
}
