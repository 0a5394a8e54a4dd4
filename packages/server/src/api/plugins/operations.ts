import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../AppContext.js'
import { HealthReport } from '../schemas/Health.js'

/** `/health`, `/ready` and `/metrics`: unauthenticated, cheap, never blocked by the rest of the service. */
export async function operationsRoutes(app: FastifyInstance, context: AppContext): Promise<void> {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Lifecycle state, chain position, node and storage status',
        response: { 200: HealthReport },
      },
    },
    async () => context.health(),
  )

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Ready for traffic: 200 only while live',
        response: {
          200: Type.Object({ ready: Type.Literal(true), state: Type.String() }),
          503: Type.Object({
            ready: Type.Literal(false),
            state: Type.String(),
            reason: Type.Optional(Type.String()),
          }),
        },
      },
    },
    async (_request, reply) => {
      const { state, reason } = context.lifecycle.snapshot()
      if (state === 'live') return { ready: true as const, state }
      reply.header('retry-after', '5')
      return reply.status(503).send({ ready: false as const, state, ...(reason ? { reason } : {}) })
    },
  )

  app.get(
    '/metrics',
    { schema: { tags: ['operations'], summary: 'Prometheus metrics', produces: ['text/plain'] } },
    async (_request, reply) => {
      reply.type(context.metrics.contentType)
      return context.metrics.metrics()
    },
  )
}
