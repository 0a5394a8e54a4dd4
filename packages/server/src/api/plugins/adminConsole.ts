import { Type } from '@sinclair/typebox'
import { type Hex, hexToBytes } from 'viem'
import { listAccounts } from '../../clients/accounts/accountStore.js'
import { backlogOf, countClientsByStage } from '../../clients/clientDirectory.js'
import { listInterests } from '../../clients/interests/interestStore.js'
import { MetricsSampler } from '../../observability/MetricsSampler.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { errorResponses } from '../schemas/ErrorResponse.js'
import { HealthReport } from '../schemas/Health.js'
import { ClientNotFoundError } from './admin.js'

/** How often the metrics are sampled for the time series, and how many samples are kept (10 minutes). */
export const SAMPLE_INTERVAL_MS = 2_000
const SAMPLES_KEPT = 300

const security = [{ adminToken: [] }]
const ClientParams = Type.Object({ id: Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' }) })
const SeriesQuery = Type.Object(
  { seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 600, description: 'Default 300' })) },
  { additionalProperties: false },
)
const Nullable = <T extends ReturnType<typeof Type.Number>>(schema: T) => Type.Union([schema, Type.Null()])
const Sample = Type.Object({
  at: Type.String({ format: 'date-time' }),
  blocksPerSecond: Type.Number(),
  itemsQueuedPerSecond: Type.Number(),
  itemsDeliveredPerSecond: Type.Number(),
  deliveryLatencyP50Ms: Nullable(Type.Number({ description: 'Queued to first delivery, last 10 s' })),
  deliveryLatencyP99Ms: Nullable(Type.Number()),
  openStreams: Type.Integer(),
  throttledPerSecond: Type.Number(),
  nodeCallsPerBlock: Nullable(Type.Number({ description: 'Null when no block was stored' })),
})
const Args = Type.Array(Type.Unknown())
const ClientDetails = Type.Object({
  id: Type.String(),
  interests: Type.Array(
    Type.Object({
      address: Type.String(),
      deployed: Type.Boolean(),
      startBlock: Type.Union([Type.Integer(), Type.Null()]),
      hasAbi: Type.Boolean(),
      filters: Type.Array(Type.Object({ id: Type.Integer(), code: Type.String(), args: Args })),
      watches: Type.Array(Type.Object({ id: Type.Integer(), kind: Type.String(), args: Args })),
      backfill: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    }),
  ),
  accounts: Type.Array(Type.Object({ address: Type.String(), activity: Type.Array(Type.String()) })),
  backlog: Type.Object({
    items: Type.Integer(),
    bytes: Type.Integer(),
    nextCursor: Type.Integer({ description: 'The cursor the next queued item gets' }),
    ackedCursor: Type.Integer(),
    oldestQueuedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    byKind: Type.Record(Type.String(), Type.Integer(), { description: 'Unacknowledged items by kind' }),
  }),
})

/**
 * The admin endpoints behind the operator console (`/console`): one overview, the time series of
 * the service's own metrics, and what one client follows. Registered inside the admin scope, so
 * they share its token check.
 */
export async function adminConsoleRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  const sampler = new MetricsSampler({
    metrics: context.metrics,
    intervalMs: SAMPLE_INTERVAL_MS,
    keep: SAMPLES_KEPT,
  })
  sampler.start()
  app.addHook('onClose', async () => sampler.stop())

  app.get(
    '/overview',
    {
      schema: {
        tags: ['admin'],
        summary: 'The health report with the clients counted by stage (null until storage is open)',
        security,
        response: {
          200: Type.Object({
            health: Type.Ref(HealthReport),
            clients: Type.Union([
              Type.Object({
                active: Type.Integer(),
                dormant: Type.Integer(),
                pruned: Type.Integer(),
                total: Type.Integer(),
              }),
              Type.Null(),
            ]),
          }),
          ...errorResponses(401),
        },
      },
    },
    async () => {
      const health = context.health()
      let clients: { active: number; dormant: number; pruned: number; total: number } | null = null
      try {
        clients = await countClientsByStage(context.runtime().db)
      } catch (error) {
        // Still connecting or the database is down: the health report says which.
        context.logger.debug({ err: error }, 'clients not counted for the admin overview')
      }
      return { health, clients }
    },
  )

  app.get(
    '/metrics/series',
    {
      schema: {
        tags: ['admin'],
        summary: `The service's own metrics as a time series, sampled every ${SAMPLE_INTERVAL_MS / 1000} s over the last minutes, oldest first`,
        security,
        querystring: SeriesQuery,
        response: {
          200: Type.Object({ intervalMs: Type.Integer(), samples: Type.Array(Sample) }),
          ...errorResponses(400, 401),
        },
      },
    },
    async (request) => {
      const { seconds = 300 } = request.query
      return { intervalMs: sampler.intervalMs, samples: sampler.series(seconds) }
    },
  )

  app.get(
    '/clients/:id/details',
    {
      schema: {
        tags: ['admin'],
        summary:
          "What a client follows (interests with their filters and watches, accounts) and its queue's backlog",
        security,
        params: ClientParams,
        response: { 200: ClientDetails, ...errorResponses(401, 404, 503) },
      },
    },
    async (request) => {
      const { id } = request.params
      const { db } = context.runtime()
      const idBytes = hexToBytes(id as Hex)
      const [backlog, interests, accounts] = await Promise.all([
        backlogOf(db, idBytes),
        listInterests(db, idBytes),
        listAccounts(db, idBytes),
      ])
      if (!backlog) throw new ClientNotFoundError(id)
      const { client, kinds } = backlog
      const oldest = kinds
        .map((row) => (row.oldest ? new Date(row.oldest).getTime() : Number.POSITIVE_INFINITY))
        .reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY)
      return {
        id: id.toLowerCase(),
        interests: interests.map((interest) => ({
          address: interest.address,
          deployed: interest.deployed,
          startBlock: interest.startBlock,
          hasAbi: interest.abi !== null,
          filters: interest.filters,
          watches: interest.watches,
          backfill: interest.backfill,
        })),
        accounts: accounts.map((account) => ({ address: account.address, activity: account.activity })),
        backlog: {
          items: client.backlog_items,
          bytes: client.backlog_bytes,
          nextCursor: client.next_cursor,
          ackedCursor: client.acked_cursor,
          oldestQueuedAt: Number.isFinite(oldest) ? new Date(oldest).toISOString() : null,
          byKind: Object.fromEntries(kinds.map((row) => [row.kind, row.count])),
        },
      }
    },
  )
}
