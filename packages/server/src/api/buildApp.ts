import { randomUUID } from 'node:crypto'
import proxyAddr from '@fastify/proxy-addr'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  LogController,
} from 'fastify'
import { Counter, Histogram } from 'prom-client'
import {
  beyondConnectionBound,
  limitConnectionsPerIp,
  TooManyConnectionsError,
} from '../clients/abuse/limitConnectionsPerIp.js'
import { subnetOf } from '../clients/abuse/subnetOf.js'
import { VERSION } from '../version.js'
import type { ApiInstance } from './ApiInstance.js'
import type { AppContext } from './AppContext.js'
import { adminRoutes } from './plugins/admin.js'
import { allowCrossOrigin } from './plugins/allowCrossOrigin.js'
import { consolePage } from './plugins/consolePage.js'
import { errorHandling } from './plugins/errorHandling.js'
import { forwardToLeader } from './plugins/forwardToLeader.js'
import { operationsRoutes } from './plugins/operations.js'
import { refuseNonFiniteNumbers } from './plugins/refuseNonFiniteNumbers.js'
import { refuseUnstorableInput } from './plugins/refuseUnstorableInput.js'
import { chargedToSubnet, requestCost } from './plugins/requireSession.js'
import { ErrorResponse } from './schemas/ErrorResponse.js'
import { HealthReport } from './schemas/Health.js'

/** A route plugin of a domain (interests, deliveries, …), registered under its prefix with the app context. */
export type RoutePlugin = {
  prefix: string
  plugin: (app: ApiInstance, context: AppContext) => Promise<void>
}

/** How often Node looks for connections past their header or request timeout. */
const CONNECTIONS_CHECKING_INTERVAL_MS = 1_000
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/

/**
 * The URL as logged: a session token given as ?token= (the stream's upgrade) is a credential.
 * Parameter names are compared decoded, as the query parser reads them (`%74oken` is `token`).
 */
export function withoutQueryToken(url: string): string {
  const at = url.indexOf('?')
  if (at === -1) return url
  const params = url
    .slice(at + 1)
    .split('&')
    .map((param) => {
      const name = param.split('=')[0] ?? ''
      let decoded = name
      try {
        decoded = decodeURIComponent(name.replaceAll('+', ' '))
      } catch {}
      return decoded === 'token' ? 'token=[redacted]' : param
    })
  return `${url.slice(0, at)}?${params.join('&')}`
}

/**
 * The HTTP application: Fastify with a schema on every route, the one error format, request ids
 * in every log line, HTTP metrics, and the OpenAPI document built from the same schemas.
 */
export async function buildApp(context: AppContext, routes: RoutePlugin[] = []): Promise<FastifyInstance> {
  const trusted =
    context.config.trustedProxies.length > 0 ? proxyAddr.compile(context.config.trustedProxies) : undefined
  const app = Fastify({
    // request.ip is the client's: the nearest address in X-Forwarded-For that is not a trusted proxy.
    trustProxy: trusted ?? false,
    loggerInstance: context.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: (request) => {
      const given = request.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    bodyLimit: context.config.bodyLimitBytes,
    // One bound on a request's arrival, however it is spread out: Node's own header timeout
    // (60 s, checked every 30 s) let a connection that dribbles header bytes outlive the
    // configured timeout, and an idle socket's timeout never fires on one that keeps dribbling.
    http: {
      headersTimeout: context.config.requestTimeoutMs,
      requestTimeout: context.config.requestTimeoutMs,
      connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    },
    requestTimeout: context.config.requestTimeoutMs,
    keepAliveTimeout: context.config.requestTimeoutMs,
    connectionTimeout: context.config.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>()
  allowCrossOrigin(app)

  const refusedConnections = new Counter({
    name: 'wallet_backend_connections_refused_total',
    help: 'TCP connections refused because their IP address held --max-connections-per-ip (answered with why, or closed at once well beyond it)',
    registers: [context.metrics],
  })
  limitConnectionsPerIp(app.server, () => context.config.maxConnectionsPerIp, {
    onRefused: () => refusedConnections.inc(),
    ...(trusted ? { exempt: (ip: string) => trusted(ip, 0) } : {}),
  })

  app.addSchema(ErrorResponse)
  app.addSchema(HealthReport)
  errorHandling(app)
  refuseUnstorableInput(app)
  refuseNonFiniteNumbers(app)
  forwardToLeader(app, context)

  const duration = new Histogram({
    name: 'wallet_backend_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [context.metrics],
  })
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    // A connection beyond its address's bound gets one answer: health, or why it is refused.
    if (beyondConnectionBound(request.raw.socket)) {
      reply.header('connection', 'close')
      const route = request.routeOptions.url
      if (route !== '/health' && route !== '/ready')
        throw new TooManyConnectionsError(context.config.maxConnectionsPerIp)
    }
    // The client API is paid for per IP subnet before anything else is done for it.
    if (chargedToSubnet(request) && !request.forwarded) {
      const delay = context.limiter.charge(
        'subnet',
        subnetOf(request.ip),
        requestCost(request, context.config.requestCosts),
      )
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    }
  })
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    duration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    request.log.debug(
      {
        method: request.method,
        url: withoutQueryToken(request.url),
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    )
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'wallet-backend',
        version: VERSION,
        description:
          'Backend for light wallets on EVM chains: interests, filters, durable deliveries, submissions, proofs and encrypted wallet state.',
      },
      components: {
        securitySchemes: {
          session: {
            type: 'http',
            scheme: 'bearer',
            description: 'Session token from POST /v1/auth/session',
          },
          adminToken: { type: 'http', scheme: 'bearer', description: 'Operator admin token' },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) ?? `def-${i}`,
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } })
  await app.register(websocket, { options: { maxPayload: context.config.wsMaxMessageBytes } })

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  await app.register(async (scope) => operationsRoutes(scope, context))
  await app.register(async (scope) => adminRoutes(scope.withTypeProvider<TypeBoxTypeProvider>(), context), {
    prefix: '/admin',
  })
  await app.register(consolePage)
  for (const route of routes) {
    const plugin: FastifyPluginAsync = async (scope) =>
      route.plugin(scope.withTypeProvider<TypeBoxTypeProvider>(), context)
    await app.register(plugin, { prefix: route.prefix })
  }
  return app
}
