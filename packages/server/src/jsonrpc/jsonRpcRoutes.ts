import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { bytesToHex, type Hex } from 'viem'
import type WebSocket from 'ws'
import type { ApiInstance } from '../api/ApiInstance.js'
import type { AppContext } from '../api/AppContext.js'
import { requireSession, sessionOf } from '../api/plugins/requireSession.js'
import { errorResponses } from '../api/schemas/ErrorResponse.js'
import { BaseError } from '../errors/BaseError.js'
import {
  failure,
  JsonRpcEndpoint,
  type JsonRpcResponse,
  type RpcCaller,
  type SubscriptionHost,
} from './JsonRpcEndpoint.js'
import { filterNotFound, JsonRpcError, RPC_CODES } from './JsonRpcError.js'
import { findRpcFilter } from './rpcFilterStore.js'
import { createRpcKey, deleteRpcKey, findRpcKeyOwner, listRpcKeys, type RpcKeyOwner } from './rpcKeyStore.js'
import { SubscriptionHub } from './SubscriptionHub.js'

/** How long a key's owner is remembered per instance: a revoked key stops working within this. */
const OWNER_TTL_MS = 5_000
const MAX_REMEMBERED_KEYS = 100_000

declare module 'fastify' {
  interface FastifyRequest {
    rpcCaller: RpcCaller | undefined
  }
}

const RpcKey = Type.Object({
  id: Type.Integer(),
  key: Type.String({ description: 'Shown once: put it in the provider URL, /rpc/<key>' }),
  url: Type.String({
    description: 'The endpoint for this key, relative to the backend (HTTP POST or WebSocket)',
  }),
})
const RpcKeyParams = Type.Object({ id: Type.Integer({ minimum: 1 }) })
const RpcKeyPath = Type.Object({ key: Type.String({ maxLength: 200 }) })

/**
 * The Ethereum JSON-RPC endpoint for wallets' unmodified providers (viem, ethers, EIP-1193):
 * `POST /rpc/<key>` (one call or a batch), `GET /rpc/<key>` as a WebSocket (subscriptions too),
 * and `POST /rpc` with `Authorization: Bearer <key>`. Keys are made, listed and revoked under
 * `/v1/rpc-keys` with a session. The key is in the path because browsers cannot set headers on a
 * WebSocket; it is taken off the request's URL before anything can log it.
 */
export async function jsonRpcRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  const endpoint = new JsonRpcEndpoint(context)
  const owners = new Map<string, { owner: RpcKeyOwner | undefined; at: number }>()
  let hub: { hub: SubscriptionHub; notifier: unknown } | undefined
  const hubOf = (): SubscriptionHub => {
    const runtime = context.runtime()
    if (hub?.notifier !== runtime.notifier)
      hub = {
        hub: new SubscriptionHub({ db: runtime.db, notifier: runtime.notifier, logger: context.logger }),
        notifier: runtime.notifier,
      }
    return hub.hub
  }
  const ownerOf = async (key: string): Promise<RpcKeyOwner | undefined> => {
    const known = owners.get(key)
    if (known && Date.now() - known.at < OWNER_TTL_MS) return known.owner
    const owner = await findRpcKeyOwner(context.runtime().db, key)
    if (owners.size >= MAX_REMEMBERED_KEYS) owners.clear()
    owners.set(key, { owner, at: Date.now() })
    return owner
  }

  await app.register(
    async (plain) => {
      const scope = plain.withTypeProvider<TypeBoxTypeProvider>()
      requireSession(scope, context)
      scope.post(
        '/',
        {
          schema: {
            tags: ['jsonrpc'],
            summary: 'Create a key for the JSON-RPC endpoint (shown once)',
            security: [{ session: [] }],
            response: { 201: RpcKey, ...errorResponses(401, 503) },
          },
        },
        async (request, reply) => {
          const { id, key } = await createRpcKey(context.runtime().db, sessionOf(request).idBytes)
          return reply.code(201).send({ id, key, url: `/rpc/${key}` })
        },
      )
      scope.get(
        '/',
        {
          schema: {
            tags: ['jsonrpc'],
            summary: "The client's JSON-RPC keys (ids only; a key is shown once)",
            security: [{ session: [] }],
            response: {
              200: Type.Object({
                keys: Type.Array(Type.Object({ id: Type.Integer(), createdAt: Type.String() })),
              }),
              ...errorResponses(401, 503),
            },
          },
        },
        async (request) => ({ keys: await listRpcKeys(context.runtime().db, sessionOf(request).idBytes) }),
      )
      scope.delete(
        '/:id',
        {
          schema: {
            tags: ['jsonrpc'],
            summary: 'Revoke a JSON-RPC key (in effect on every instance within 5 s)',
            security: [{ session: [] }],
            params: RpcKeyParams,
            response: { 204: Type.Null(), ...errorResponses(401, 404, 503) },
          },
        },
        async (request, reply) => {
          const { id } = request.params
          const deleted = await deleteRpcKey(context.runtime().db, sessionOf(request).idBytes, id)
          if (!deleted)
            throw new BaseError('RPC_KEY_NOT_FOUND', `This client has no key ${id}`, { status: 404 })
          owners.clear()
          return reply.code(204).send(null)
        },
      )
    },
    { prefix: '/v1/rpc-keys' },
  )

  await app.register(
    async (plain) => {
      const scope = plain.withTypeProvider<TypeBoxTypeProvider>()
      if (!scope.hasRequestDecorator('rpcCaller')) scope.decorateRequest('rpcCaller', undefined)
      // Any body is taken as text: JSON that does not parse is a JSON-RPC parse error, not a 400.
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body))
      scope.addHook('onRequest', async (request) => {
        // The key is a credential: off the URL before any log line can carry it.
        if (request.raw.url?.startsWith('/rpc/')) request.raw.url = '/rpc/[key]'
      })
      const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
        const fromPath = (request.params as { key?: string }).key
        const header = request.headers.authorization
        const key =
          fromPath ?? (header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined)
        const owner = key === undefined ? undefined : await ownerOf(key)
        if (!owner || key === undefined)
          return reply
            .code(401)
            .send(
              failure(
                null,
                new JsonRpcError(
                  'RPC_KEY_INVALID',
                  RPC_CODES.unauthorized,
                  'unknown or revoked key: create one with POST /v1/rpc-keys and use /rpc/<key>',
                ),
              ),
            )
        request.rpcCaller = {
          clientId: bytesToHex(owner.clientId),
          clientIdBytes: owner.clientId,
          plan: owner.plan,
          ip: request.ip,
          key,
          forwarded: request.forwarded,
        }
      }
      const answer = async (caller: RpcCaller, text: string, host?: SubscriptionHost) => {
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch {
          return failure(
            null,
            new JsonRpcError('RPC_PARSE_ERROR', RPC_CODES.parseError, 'parse error: the body is not JSON'),
          )
        }
        if (!Array.isArray(parsed)) return endpoint.handle(caller, parsed, host)
        const max = context.config.rpcMaxBatch
        if (parsed.length === 0 || parsed.length > max)
          return failure(
            null,
            new JsonRpcError(
              'RPC_INVALID_BATCH',
              RPC_CODES.invalidRequest,
              parsed.length === 0 ? 'empty batch' : `batch too large: ${parsed.length} calls, at most ${max}`,
              { limit: max },
            ),
          )
        const answers = await Promise.all(parsed.map((call) => endpoint.handle(caller, call, host)))
        const present = answers.filter((a): a is JsonRpcResponse => a !== undefined)
        return present.length > 0 ? present : undefined
      }
      const post = async (request: FastifyRequest, reply: FastifyReply) => {
        const body = typeof request.body === 'string' ? request.body : ''
        const result = await answer(request.rpcCaller!, body)
        if (result === undefined) return reply.code(204).send()
        const text = JSON.stringify(result)
        endpoint.chargeAnswer(request.rpcCaller!, Buffer.byteLength(text))
        return reply.header('content-type', 'application/json').send(text)
      }
      const schema = {
        tags: ['jsonrpc'],
        summary: 'Ethereum JSON-RPC 2.0 (one call or a batch); errors are JSON-RPC errors',
        body: {},
        response: { 200: {}, 204: Type.Null() },
      }
      scope.post('/', { preHandler: authenticate, schema: { ...schema, security: [{ session: [] }] } }, post)
      scope.post('/:key', { preHandler: authenticate, schema: { ...schema, params: RpcKeyPath } }, post)
      scope.get(
        '/:key',
        {
          websocket: true,
          preHandler: authenticate,
          schema: {
            tags: ['jsonrpc'],
            summary: 'WebSocket: Ethereum JSON-RPC 2.0 with eth_subscribe (newHeads, logs)',
            params: RpcKeyPath,
          },
        },
        (socket: WebSocket, request) => serveSocket(socket, request.rpcCaller!, request.params),
      )

      const serveSocket = (socket: WebSocket, caller: RpcCaller, { key }: Static<typeof RpcKeyPath>) => {
        const held = new Map<Hex, () => void>()
        let toHold: Hex[] = []
        let queue = Promise.resolve()
        const send = (message: unknown) => {
          if (socket.readyState !== socket.OPEN) return
          const text = JSON.stringify(message)
          socket.send(text)
          // Answers and notifications cost their bytes; over the hard limit the socket is closed
          // with the wait, and subscriptions resume by their ids after it.
          const retryAfter = endpoint.chargeAnswer(caller, Buffer.byteLength(text))
          if (retryAfter > 0)
            socket.close(4029, `rate limited: reconnect and resume subscriptions in ${retryAfter} s`)
        }
        const host: SubscriptionHost = {
          subscribe: async (kind, criteria, resume) => {
            const { db } = context.runtime()
            let id: Hex
            if (resume !== undefined) {
              const filter = await findRpcFilter(
                db,
                caller.clientIdBytes,
                resume,
                context.config.rpcFilterIdleMs,
              )
              if (!filter.subscription || (filter.kind === 'blocks') !== (kind === 'newHeads'))
                throw filterNotFound()
              id = filter.id
            } else {
              id = await endpoint.install(caller, {
                kind: kind === 'newHeads' ? 'blocks' : 'logs',
                subscription: true,
                criteria,
              })
            }
            // Held once the answer naming it is sent: a notification must not come first.
            if (!held.has(id)) toHold.push(id)
            return id
          },
          unsubscribe: async (id) => {
            const deleted = await endpoint.uninstall(caller, id)
            if (typeof id === 'string') {
              held.get(id as Hex)?.()
              held.delete(id as Hex)
            }
            return deleted
          },
        }
        socket.on('message', (data) => {
          // In order: a subscribe is answered before the next message is read.
          queue = queue.then(async () => {
            if (socket.readyState !== socket.OPEN) return
            if (!(await ownerOf(key))) {
              send(
                failure(
                  null,
                  new JsonRpcError('RPC_KEY_INVALID', RPC_CODES.unauthorized, 'the key was revoked'),
                ),
              )
              socket.close(4001, 'key revoked')
              return
            }
            const result = await answer(caller, data.toString(), host).catch((error: unknown) =>
              failure(null, error),
            )
            if (result !== undefined) send(result)
            const ids = toHold
            toHold = []
            for (const id of ids)
              held.set(
                id,
                hubOf().hold({
                  id,
                  clientId: caller.clientId,
                  open: () =>
                    socket.readyState === socket.OPEN &&
                    socket.bufferedAmount <= context.config.streamBacklogBytes,
                  send: (result) =>
                    send({
                      jsonrpc: '2.0',
                      method: 'eth_subscription',
                      params: { subscription: id, result },
                    }),
                }),
              )
          })
        })
        socket.on('close', () => {
          for (const release of held.values()) release()
          held.clear()
        })
      }
    },
    { prefix: '/rpc' },
  )
}
