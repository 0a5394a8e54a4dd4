import type { FastifyInstance } from 'fastify'

/**
 * Browser wallets call the API from their own origin. Sessions are bearer tokens, never cookies,
 * so any origin may: answers say so and expose the headers the SDK reads (ETag, Retry-After), and
 * a preflight is answered here, before sessions and costs, since it carries no credentials.
 */
export function allowCrossOrigin(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header('access-control-allow-origin', '*')
    reply.header('access-control-expose-headers', 'etag, retry-after, location')
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      reply.header('access-control-allow-methods', 'GET, POST, PUT, DELETE')
      reply.header('access-control-allow-headers', 'authorization, content-type, if-match, if-none-match')
      reply.header('access-control-max-age', '600')
      return reply.code(204).send()
    }
  })
}
