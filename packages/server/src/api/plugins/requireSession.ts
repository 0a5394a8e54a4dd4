import type { FastifyInstance, FastifyRequest } from 'fastify'
import { bytesToHex, type Hex } from 'viem'
import { AuthError } from '../../clients/auth/errors.js'
import { findSession } from '../../clients/auth/sessionStore.js'
import type { AppContext } from '../AppContext.js'

export type SessionClient = { id: Hex; idBytes: Uint8Array; token: string }

declare module 'fastify' {
  interface FastifyRequest {
    client: SessionClient | undefined
  }
}

/** The session of a request that passed `requireSession`. */
export function sessionOf(request: FastifyRequest): SessionClient {
  if (!request.client) throw new AuthError('SESSION_REQUIRED', 'This route needs a session')
  return request.client
}

const TOUCH_INTERVAL_MS = 60_000

/** What a request costs the limits: reads are cheap, writes dearer, sign-in and streams dearest. */
export function requestCost(request: FastifyRequest): number {
  const url = request.url
  // Sign-in costs hashing, a stream holds a socket, a proof costs the node a whole block or trie walk.
  if (url.startsWith('/v1/auth') || url.startsWith('/v1/stream') || url.startsWith('/v1/proofs')) return 5
  return request.method === 'GET' || request.method === 'HEAD' ? 1 : 3
}

/**
 * Every route in the scope needs "Authorization: Bearer <session token>". The client's last
 * contact is refreshed at most once a minute, which is all the pruning policy needs.
 */
export function requireSession(app: FastifyInstance, context: AppContext): void {
  if (!app.hasRequestDecorator('client')) app.decorateRequest('client', undefined)
  const touched = new Map<Hex, number>()
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization
    if (!header?.startsWith('Bearer ')) {
      throw new AuthError(
        'SESSION_REQUIRED',
        'This route needs "Authorization: Bearer <session token>" from POST /v1/auth/session',
      )
    }
    const token = header.slice('Bearer '.length).trim()
    if (token.length < 20 || token.length > 200)
      throw new AuthError('SESSION_INVALID', 'Unknown or expired session token')
    const { db, usage } = context.runtime()
    const session = await findSession(db, token)
    if (!session) throw new AuthError('SESSION_INVALID', 'Unknown or expired session token')
    const id = bytesToHex(session.clientId)
    request.client = { id, idBytes: session.clientId, token }
    usage.add(id, 'requests')
    const delay = context.limiter.charge('client', id, requestCost(request))
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    const now = Date.now()
    if ((touched.get(id) ?? 0) + TOUCH_INTERVAL_MS < now) {
      touched.set(id, now)
      if (touched.size > 100_000) touched.clear()
      await db
        .updateTable('clients')
        .set({ last_seen_at: new Date() })
        .where('id', '=', session.clientId)
        .execute()
    }
  })
}
