import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppContext } from '../../src/api/AppContext.js'
import { buildApp } from '../../src/api/buildApp.js'
import { NotReadyError } from '../../src/api/NotReadyError.js'
import { toErrorAnswer } from '../../src/api/plugins/errorHandling.js'
import { CostLimiter } from '../../src/clients/abuse/CostLimiter.js'
import { InterestNotFoundError } from '../../src/clients/interests/changeInterest.js'
import { PlanBook } from '../../src/clients/plans/PlanBook.js'
import { ConfigError } from '../../src/config/ConfigError.js'
import { loadConfig } from '../../src/config/loadConfig.js'
import { Lifecycle } from '../../src/lifecycle/Lifecycle.js'
import { NoLeaderError } from '../../src/lifecycle/leadership/errors.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { createMetrics } from '../../src/observability/createMetrics.js'

const ADMIN = 'test-admin-token-0123456789'

let app: FastifyInstance
let context: AppContext
/** Every line the app logged, parsed: the level starts silent, a test raises it to look. */
const logged: { level: string; msg: string; code?: string; err?: unknown }[] = []

beforeAll(async () => {
  const config = loadConfig({ flags: { 'body-limit-bytes': '4096' } })
  const { logger, setLevel } = createLogger({
    level: 'silent',
    destination: { write: (line: string) => void logged.push(JSON.parse(line)) },
  })
  const metrics = createMetrics()
  const lifecycle = new Lifecycle({ logger, metrics })
  context = {
    config,
    logger,
    metrics,
    lifecycle,
    adminToken: ADMIN,
    setLogLevel: setLevel,
    plans: new PlanBook(config),
    limiter: new CostLimiter(
      { client: { perSecond: 1, soft: 5, hard: 10 }, subnet: { perSecond: 1, soft: 5, hard: 10 } },
      { logger, metrics },
    ),
    runtime: () => {
      throw new NotReadyError('starting')
    },
    leader: () => {
      throw new NotReadyError('starting')
    },
    leadership: () => {
      throw new NotReadyError('starting')
    },
    publicOrigin: () => 'http://127.0.0.1',
    health: () => ({
      ...lifecycle.snapshot(),
      reason: lifecycle.snapshot().reason ?? '',
      version: 'test',
      uptimeSeconds: 1,
      node: { mode: 'external', available: true, endpoints: [] },
      storage: { driver: 'pglite', available: true },
    }),
  }
  app = await buildApp(context)
  await app.ready()
})

afterAll(async () => {
  await app.close()
})

describe('operations routes', () => {
  it('/health answers the lifecycle state and /ready is 503 until live', async () => {
    const health = await app.inject({ method: 'GET', url: '/health' })
    expect(health.statusCode).toBe(200)
    expect(health.json()).toMatchObject({ state: 'starting', storage: { driver: 'pglite' } })
    const notReady = await app.inject({ method: 'GET', url: '/ready' })
    expect(notReady.statusCode).toBe(503)
    expect(notReady.headers['retry-after']).toBe('5')
    context.lifecycle.transition('connecting', 'test')
    context.lifecycle.transition('live', 'test')
    const ready = await app.inject({ method: 'GET', url: '/ready' })
    expect(ready.statusCode).toBe(200)
    expect(ready.json()).toEqual({ ready: true, state: 'live' })
  })

  it('/metrics exposes process, HTTP and lifecycle metrics', async () => {
    await app.inject({ method: 'GET', url: '/health' })
    const response = await app.inject({ method: 'GET', url: '/metrics' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toContain('text/plain')
    expect(response.body).toContain('wallet_backend_process_cpu_seconds_total')
    expect(response.body).toMatch(/wallet_backend_http_request_duration_seconds_count\{[^}]*route="\/health"/)
    expect(response.body).toContain('wallet_backend_lifecycle_state')
  })

  it('serves the OpenAPI document and the docs page', async () => {
    const spec = await app.inject({ method: 'GET', url: '/openapi.json' })
    expect(spec.statusCode).toBe(200)
    const document = spec.json()
    expect(document.openapi).toBe('3.1.0')
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/health', '/ready', '/admin/log-level']),
    )
    const docs = await app.inject({ method: 'GET', url: '/docs/' })
    expect(docs.statusCode).toBe(200)
    expect(docs.body).toContain('swagger')
  })
})

describe('admin log level', () => {
  it('is refused without the admin token', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Basic ${ADMIN}`, `Bearer ${ADMIN}x`]) {
      const response = await app.inject({
        method: 'PUT',
        url: '/admin/log-level',
        payload: { level: 'debug' },
        headers: authorization ? { authorization } : {},
      })
      expect(response.statusCode).toBe(401)
      expect(response.json()).toMatchObject({ code: 'ADMIN_UNAUTHORIZED' })
    }
    expect(context.logger.level).toBe('silent')
  })

  it('changes the level of the root and of existing child loggers', async () => {
    const child = context.logger.child({ component: 'x' })
    const response = await app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      payload: { level: 'debug' },
      headers: { authorization: `Bearer ${ADMIN}` },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ level: 'debug' })
    expect(context.logger.level).toBe('debug')
    expect(child.level).toBe('debug')
    const bad = await app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      payload: { level: 'chatty' },
      headers: { authorization: `Bearer ${ADMIN}` },
    })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'INVALID_REQUEST' })
    context.setLogLevel('silent')
  })
})

describe('malformed requests get a 4xx with a code, never a 5xx', () => {
  const auth = { authorization: `Bearer ${ADMIN}` }

  it('bad JSON, wrong types, huge bodies, unknown paths', async () => {
    const badJson = await app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      payload: '{"level": ',
      headers: { ...auth, 'content-type': 'application/json' },
    })
    expect(badJson.statusCode).toBe(400)
    expect(badJson.json()).toMatchObject({ code: 'INVALID_JSON' })
    expect(badJson.json().requestId).toBe(badJson.headers['x-request-id'])

    const wrongType = await app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      payload: { level: 5 },
      headers: auth,
    })
    expect(wrongType.statusCode).toBe(400)
    expect(wrongType.json()).toMatchObject({ code: 'INVALID_REQUEST' })

    const huge = await app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      payload: JSON.stringify({ level: 'x'.repeat(10_000) }),
      headers: { ...auth, 'content-type': 'application/json' },
    })
    expect(huge.statusCode).toBe(413)
    expect(huge.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' })

    const unknown = await app.inject({ method: 'GET', url: '/v1/nothing-here' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({ code: 'NOT_FOUND' })

    const media = await app.inject({
      method: 'PUT',
      url: '/admin/log-level',
      payload: 'level=debug',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(media.statusCode).toBe(415)
    expect(media.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' })
  })

  it('keeps a well-formed request id from the client and replaces a hostile one', async () => {
    const kept = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'abc-123' } })
    expect(kept.headers['x-request-id']).toBe('abc-123')
    const replaced = await app.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'a\nb'.repeat(50) },
    })
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('random methods, paths, headers and bodies (fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'),
        fc.oneof(
          fc.constantFrom('/health', '/ready', '/admin/log-level', '/openapi.json', '/v1/interests/0x00'),
          fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
          fc.string({ maxLength: 60 }).map((s) => `/${encodeURIComponent(s)}`),
        ),
        fc.constantFrom(
          'application/json',
          'text/plain',
          'application/octet-stream',
          'application/json; charset=latin1',
        ),
        fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 }), fc.constant('x'.repeat(5000))),
        fc.boolean(),
        async (method, url, contentType, body, withAuth) => {
          const response = await app.inject({
            method: method as 'GET',
            url,
            payload: method === 'GET' || method === 'OPTIONS' ? undefined : body,
            headers: { 'content-type': contentType, ...(withAuth ? auth : {}) },
          })
          expect(response.statusCode, `${method} ${url} → ${response.body.slice(0, 200)}`).toBeLessThan(500)
          if (response.statusCode >= 400) expect(typeof response.json().code).toBe('string')
        },
      ),
      { numRuns: 300 },
    )
    context.setLogLevel('silent')
  })
})

describe('logs', () => {
  it('log a NOT_READY answer during start as info without a stack: there is nothing to act on', async () => {
    context.setLogLevel('debug')
    try {
      const from = logged.length
      const response = await app.inject({
        method: 'GET',
        url: '/admin/clients',
        headers: { authorization: `Bearer ${ADMIN}` },
        // A subnet of its own: the fuzz above fails admin sign-ins from 127.0.0.1, which the
        // admin throttle may still be holding against that subnet.
        remoteAddress: '198.51.100.7',
      })
      expect(response.statusCode).toBe(503)
      expect(response.json()).toMatchObject({ code: 'NOT_READY' })
      const lines = logged.slice(from)
      expect(lines.find((line) => line.code === 'NOT_READY')).toMatchObject({ level: 'info' })
      expect(lines.filter((line) => line.level === 'error' || line.err !== undefined)).toEqual([])
    } finally {
      context.setLogLevel('silent')
    }
  })
})

describe('error answers', () => {
  const thrown: Record<string, () => Error> = {
    catalogue: () => new InterestNotFoundError('0x5fbdb2315678afecb367f032d93f642f64180aa3'),
    operator: () => new ConfigError('database-url', 'flag', 'password=hunter2 is wrong'),
    plain: () => new Error('connection to 10.0.0.7:5432 reset'),
    failover: () => new NoLeaderError('no leader has been elected yet'),
  }
  let failing: FastifyInstance
  beforeAll(async () => {
    // A registry of its own: the app above registered its metrics in the shared one.
    failing = await buildApp({ ...context, metrics: createMetrics() }, [
      {
        prefix: '/fail',
        plugin: async (scope) => {
          for (const [name, error] of Object.entries(thrown))
            scope.get(`/${name}`, async () => Promise.reject(error()))
        },
      },
    ])
    await failing.ready()
  })
  afterAll(async () => {
    await failing.close()
  })

  it('are RFC 9457 problems that keep the stable code', async () => {
    const answer = await failing.inject({ method: 'GET', url: '/fail/catalogue' })
    expect(answer.statusCode).toBe(404)
    expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8')
    expect(answer.json()).toEqual({
      type: 'urn:wallet-backend:error:INTEREST_NOT_FOUND',
      title: 'interest not found',
      status: 404,
      code: 'INTEREST_NOT_FOUND',
      message: 'No interest in 0x5fbdb2315678afecb367f032d93f642f64180aa3',
      requestId: answer.headers['x-request-id'],
    })
    const unknown = await failing.inject({ method: 'GET', url: '/nowhere' })
    expect(unknown.json()).toMatchObject({ type: 'urn:wallet-backend:error:NOT_FOUND', status: 404 })
  })

  it('tell a client nothing of an error outside the catalogue: INTERNAL, without its message', async () => {
    for (const name of ['operator', 'plain']) {
      const answer = await failing.inject({ method: 'GET', url: `/fail/${name}` })
      expect(answer.statusCode).toBe(500)
      expect(answer.json()).toMatchObject({ code: 'INTERNAL', status: 500 })
      expect(answer.body).not.toMatch(/hunter2|10\.0\.0\.7|database-url/)
    }
  })

  it('log a failover’s NO_LEADER at warn without a stack, and an error outside the catalogue at error with it', async () => {
    context.setLogLevel('debug')
    try {
      const from = logged.length
      const answer = await failing.inject({ method: 'GET', url: '/fail/failover' })
      expect(answer.statusCode).toBe(503)
      expect(answer.headers['retry-after']).toBe('1')
      await failing.inject({ method: 'GET', url: '/fail/plain' })
      const lines = logged.slice(from)
      const failover = lines.filter((line) => line.code === 'NO_LEADER')
      expect(failover).toHaveLength(1)
      expect(failover[0]).toMatchObject({ level: 'warn' })
      expect(failover[0]!.err).toBeUndefined()
      expect(lines.filter((line) => line.level === 'error')).toHaveLength(1)
    } finally {
      context.setLogLevel('silent')
    }
  })

  it('map the same way for a stream frame, with the fallback code the stream gives', () => {
    expect(toErrorAnswer(thrown.plain!(), 'ACK_FAILED')).toEqual({
      status: 500,
      body: { code: 'ACK_FAILED', message: 'Internal error; the request id finds it in the logs' },
    })
    expect(toErrorAnswer(thrown.catalogue!(), 'ACK_FAILED').body.code).toBe('INTEREST_NOT_FOUND')
  })
})

describe('trusted proxies', () => {
  const whoami = (config: AppContext['config']) =>
    buildApp({ ...context, config, metrics: createMetrics() }, [
      {
        prefix: '/t',
        plugin: async (scope) => void scope.get('/ip', async (request) => ({ ip: request.ip })),
      },
    ])
  const ipOf = async (app: FastifyInstance, remoteAddress: string, forwardedFor: string) =>
    (
      await app.inject({
        method: 'GET',
        url: '/t/ip',
        remoteAddress,
        headers: { 'x-forwarded-for': forwardedFor },
      })
    ).json().ip

  it('take the client address from X-Forwarded-For only when a trusted proxy sends it', async () => {
    const trusting = await whoami(loadConfig({ flags: { 'trusted-proxies': '10.0.0.0/8, 192.0.2.1' } }))
    const plain = await whoami(loadConfig({ flags: {} }))
    try {
      expect(await ipOf(trusting, '10.1.2.3', '203.0.113.9')).toBe('203.0.113.9')
      // The nearest address that is not itself a trusted proxy: what the client put first is not believed.
      expect(await ipOf(trusting, '10.1.2.3', '198.51.100.4, 203.0.113.9, 192.0.2.1')).toBe('203.0.113.9')
      expect(await ipOf(trusting, '198.51.100.1', '203.0.113.9')).toBe('198.51.100.1')
      expect(await ipOf(plain, '10.1.2.3', '203.0.113.9')).toBe('10.1.2.3')
    } finally {
      await Promise.all([trusting.close(), plain.close()])
    }
  })

  it('refuse a setting that names no address', () => {
    expect(() => loadConfig({ flags: { 'trusted-proxies': '10.0.0.0/8,not-an-ip' } })).toThrow(/not-an-ip/)
  })
})
