import { type Static, Type } from '@sinclair/typebox'
import { LIFECYCLE_STATES } from '../../lifecycle/Lifecycle.js'

const BlockRef = Type.Object({ number: Type.Integer(), hash: Type.String() })

export const HealthReport = Type.Object(
  {
    state: Type.Union(
      LIFECYCLE_STATES.map((state) => Type.Literal(state)),
      { description: 'Lifecycle state' },
    ),
    since: Type.String({ format: 'date-time', description: 'When the service entered this state' }),
    reason: Type.Optional(Type.String({ description: 'Why the service is in this state' })),
    version: Type.String(),
    uptimeSeconds: Type.Number(),
    node: Type.Object({
      mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')]),
      chainId: Type.Optional(Type.Integer()),
      available: Type.Boolean(),
      endpoints: Type.Array(
        Type.Object(
          {
            url: Type.String({ description: 'Endpoint URL with secrets redacted' }),
            healthy: Type.Boolean(),
            active: Type.Boolean(),
            lastError: Type.Optional(Type.String()),
            lastLatencyMs: Type.Optional(Type.Number()),
          },
          { additionalProperties: true },
        ),
      ),
    }),
    storage: Type.Object({
      driver: Type.Union([Type.Literal('pglite'), Type.Literal('postgres')]),
      available: Type.Boolean(),
    }),
    head: Type.Optional(BlockRef),
    safe: Type.Optional(BlockRef),
    finalized: Type.Optional(BlockRef),
    chain: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Follower details' })),
    leadership: Type.Optional(
      Type.Object(
        {
          role: Type.Union([Type.Literal('leader'), Type.Literal('standby')]),
          holder: Type.String({ description: 'This instance, as the leadership row names it' }),
          term: Type.Optional(Type.Integer({ description: 'The current term, as this instance knows it' })),
          leaderUrl: Type.Optional(Type.String({ description: 'Where a standby forwards writes' })),
          lastError: Type.Optional(Type.String()),
        },
        {
          description:
            'Which instance follows the chain: the leader; standbys serve the API and forward writes that need the follower to it',
        },
      ),
    ),
    pruner: Type.Optional(
      Type.Object(
        {
          intervalMs: Type.Integer(),
          running: Type.Boolean(),
          lastRun: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          lastError: Type.Optional(Type.String()),
        },
        { description: 'The abandoned-client policy and garbage collection: its last pass' },
      ),
    ),
    background: Type.Optional(
      Type.Array(Type.Record(Type.String(), Type.Unknown()), {
        description: 'Long-running maintenance work',
      }),
    ),
    failedBackground: Type.Optional(
      Type.Array(Type.Record(Type.String(), Type.Unknown()), {
        description:
          'Background work that gave up since the start (the last 20, with failedAt and error): a back-fill here ended failed after its retries, and its client must ask for it again',
      }),
    ),
  },
  { $id: 'HealthReport', title: 'HealthReport' },
)
export type HealthReport = Static<typeof HealthReport>
