import { Value } from '@sinclair/typebox/value'
import {
  AckBody,
  type AckedFrame,
  AckResult,
  ClientFrame,
  DeliveriesPage,
  DeliveriesQuery,
  DeliveryItem,
  type ErrorFrame,
  type ItemFrame,
  StreamQuery,
} from '@wallet-backend/sdk/protocol'
import type { FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import type { WebSocket } from 'ws'
import { RateLimitedError } from '../../clients/abuse/CostLimiter.js'
import { subnetOf } from '../../clients/abuse/subnetOf.js'
import { AckCoalescer } from '../../delivery/AckCoalescer.js'
import { acknowledge, readDeliveries } from '../../delivery/deliveryStore.js'
import { BaseError } from '../../errors/BaseError.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { chargeDelivered, chargeResponseBytes } from '../plugins/chargeBytes.js'
import { toErrorAnswer } from '../plugins/errorHandling.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

export class StreamLimitError extends BaseError {
  override readonly name = 'StreamLimitError'
  constructor(scope: 'client' | 'subnet', limit: number) {
    super('TOO_MANY_STREAMS', `At most ${limit} streams per ${scope}; close one first`, {
      status: 429,
      details: { scope, limit, retryAfterSeconds: 5 },
    })
  }
}

export class QueryTokenError extends BaseError {
  override readonly name = 'QueryTokenError'
  constructor() {
    super(
      'QUERY_TOKEN_NOT_ALLOWED',
      'Send the session token as "Authorization: Bearer <token>"; ?token= is taken only by the WebSocket stream',
      { status: 400 },
    )
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes the session token as ?token= too: a WebSocket upgrade, where browsers cannot set headers. */
    queryToken?: boolean
  }
}

/** How long a stream may stay over --stream-backlog-bytes before its consumer counts as too slow. */
const SLOW_CONSUMER_GRACE_MS = 5_000

/** The durable per-client queue: pages, acknowledgements, and the WebSocket stream. */
export async function deliveryRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  const slowConsumers = new Counter({
    name: 'wallet_backend_stream_slow_consumers_total',
    help: 'Streams disconnected because their consumer fell more than --stream-backlog-bytes behind',
    registers: [context.metrics],
  })
  const ackMessages = new Counter({
    name: 'wallet_backend_stream_acks_total',
    help: 'Acks received on streams',
    registers: [context.metrics],
  })
  const ackTransactions = new Counter({
    name: 'wallet_backend_stream_ack_transactions_total',
    help: 'Transactions run for stream acks (acks that arrive while one runs are merged into the next)',
    registers: [context.metrics],
  })
  // Browsers cannot set headers on a WebSocket: its upgrade, and nothing else, also takes the
  // token as ?token= (a URL ends up in histories and logs; a header does not).
  app.addHook('onRequest', async (request) => {
    const token = (request.query as { token?: unknown }).token
    if (token === undefined) return
    if (!request.routeOptions.config.queryToken) throw new QueryTokenError()
    if (!request.headers.authorization && typeof token === 'string')
      request.headers.authorization = `Bearer ${token}`
  })
  requireSession(app, context)
  // Streams held open, per subnet: a bound on the connections one network can tie up.
  const streamsPerSubnet = new Map<string, number>()
  const withinStreamLimits = async (request: FastifyRequest) => {
    const client = sessionOf(request)
    if (context.runtime().streams.count(client.id) >= client.plan.streams) {
      throw new StreamLimitError('client', client.plan.streams)
    }
    if ((streamsPerSubnet.get(subnetOf(request.ip)) ?? 0) >= context.config.maxStreamsPerSubnet) {
      throw new StreamLimitError('subnet', context.config.maxStreamsPerSubnet)
    }
  }
  app.addSchema(DeliveryItem)
  const security = [{ session: [] }]
  const chain = () => {
    return context.runtime().chain()
  }

  app.get(
    '/deliveries',
    {
      onSend: chargeResponseBytes(context, 'bytes_delivered'),
      schema: {
        tags: ['deliveries'],
        summary: 'Items after a cursor, oldest first (never anything at or below the acknowledged cursor)',
        security,
        querystring: DeliveriesQuery,
        response: { 200: DeliveriesPage, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const { after = 0, limit = 100 } = request.query
      const runtime = context.runtime()
      return readDeliveries(runtime.db, sessionOf(request).idBytes, {
        after,
        limit,
        chain: chain(),
        onDelivered: (queuedAt) => runtime.streams.delivered.record(queuedAt),
      })
    },
  )

  app.post(
    '/deliveries/ack',
    {
      schema: {
        tags: ['deliveries'],
        summary: 'Acknowledge every item up to and including a cursor',
        security,
        body: AckBody,
        response: { 200: AckResult, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const { cursor } = request.body
      const finalized = chain().finalized?.number ?? -1
      return acknowledge(context.runtime().db, sessionOf(request).idBytes, cursor, finalized)
    },
  )

  app.get(
    '/stream',
    {
      websocket: true,
      config: { queryToken: true },
      preHandler: withinStreamLimits,
      schema: {
        tags: ['deliveries'],
        summary:
          'WebSocket: pushes {type:"item", item} in cursor order from ?after=; send {type:"ack", cursor} (frames: docs/api.md)',
        security,
        querystring: StreamQuery,
      },
    },
    (socket: WebSocket, request) => {
      const client = sessionOf(request)
      const runtime = context.runtime()
      const subnet = subnetOf(request.ip)
      streamsPerSubnet.set(subnet, (streamsPerSubnet.get(subnet) ?? 0) + 1)
      let closed = false
      const limits = context.limiter.limitsOf('client', client.plan)
      const shut = (code: number, reason: string) => {
        closed = true
        socket.close(code, reason)
        // A peer that does not read never answers the close either: let it go after a grace.
        setTimeout(() => socket.terminate(), 2_000).unref()
      }
      // Over the bound the stream pauses (no more reads for it); one that does not drain below it
      // within the grace is disconnected.
      let draining: NodeJS.Timeout | undefined
      const waitForDrain = () => {
        if (draining) return
        const since = Date.now()
        draining = setInterval(() => {
          if (closed) return clearInterval(draining)
          if (socket.bufferedAmount <= context.config.streamBacklogBytes) {
            clearInterval(draining)
            draining = undefined
            runtime.streams.wake(client.id)
          } else if (Date.now() - since > SLOW_CONSUMER_GRACE_MS) {
            clearInterval(draining)
            slowConsumers.inc()
            shut(1013, 'slow consumer: reconnect with ?after=<last cursor>')
          }
        }, 50)
        draining.unref()
      }
      const detach = runtime.streams.attach({
        clientId: client.idBytes,
        position: request.query.after ?? 0,
        send: async (items) => {
          let bytes = 0
          let sent = 0
          for (const item of items) {
            if (closed) break
            // A consumer that does not read is disconnected, not buffered for without end: what
            // waits for it is at most the backlog bound plus one frame.
            if (socket.bufferedAmount > context.config.streamBacklogBytes) {
              waitForDrain()
              break
            }
            const frame = JSON.stringify({ type: 'item', item } satisfies ItemFrame)
            socket.send(frame)
            bytes += frame.length
            sent += 1
          }
          // Delivered bytes cost too; a client over its hard limit is closed with a reason and
          // resumes from its cursor later (the position below is where it stands).
          const retryAfter = chargeDelivered(context, client, bytes, 'bytes_delivered')
          if (retryAfter > 0 && !closed) {
            shut(4029, `rate limited: reconnect with ?after=<last cursor> in ${retryAfter} s`)
          }
          return sent
        },
        fail: (error) => {
          if (closed) return
          request.log.warn({ err: error }, 'stream failed')
          shut(1011, 'stream failed; reconnect with ?after=<last cursor>')
        },
      })
      const error = (wire: Omit<ErrorFrame, 'type'>) =>
        socket.send(JSON.stringify({ type: 'error', ...wire } satisfies ErrorFrame))
      const acks = new AckCoalescer((cursor) => {
        ackTransactions.inc()
        return acknowledge(runtime.db, client.idBytes, cursor, chain().finalized?.number ?? -1).then(
          ({ acked }) => {
            if (!closed) socket.send(JSON.stringify({ type: 'acked', cursor: acked } satisfies AckedFrame))
          },
          (failed: unknown) => {
            if (closed) return
            // What the client is told is the catalogue's answer, never an internal message.
            const answer = toErrorAnswer(failed, 'ACK_FAILED')
            if (answer.status >= 500) request.log.warn({ err: failed }, 'stream ack failed')
            error(answer.body)
          },
        )
      })
      /** Charges a message like a request of `units`; false (and the stream closed) over the limit. */
      const paidFor = (units: number): boolean => {
        try {
          context.limiter.charge('subnet', subnet, units)
          context.limiter.charge('client', client.id, units, limits)
          return true
        } catch (refused) {
          if (!(refused instanceof RateLimitedError)) throw refused
          error(toErrorAnswer(refused).body)
          const seconds = refused.details?.retryAfterSeconds
          shut(4029, `rate limited: reconnect with ?after=<last cursor> in ${seconds} s`)
          return false
        }
      }
      socket.on('message', (data) => {
        if (closed) return
        let parsed: unknown
        try {
          parsed = JSON.parse(data.toString())
        } catch {
          if (paidFor(context.config.requestCosts.read))
            error({ code: 'INVALID_JSON', message: 'messages must be JSON' })
          return
        }
        if (Value.Check(ClientFrame, parsed)) {
          // Every message is paid for like a request (an ack like POST /deliveries/ack), by the
          // client and its subnet; one over its hard limit is told why and closed, not served.
          if (paidFor(context.config.requestCosts.write)) {
            ackMessages.inc()
            acks.push(parsed.cursor)
          }
          return
        }
        if (paidFor(context.config.requestCosts.read))
          error({ code: 'INVALID_MESSAGE', message: 'expected {"type":"ack","cursor":N}' })
      })
      socket.on('close', () => {
        closed = true
        clearInterval(draining)
        detach()
        const left = (streamsPerSubnet.get(subnet) ?? 1) - 1
        if (left > 0) streamsPerSubnet.set(subnet, left)
        else streamsPerSubnet.delete(subnet)
      })
    },
  )
}
