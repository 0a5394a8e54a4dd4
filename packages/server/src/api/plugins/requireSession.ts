import type { FastifyInstance, FastifyRequest } from 'fastify'
import { bytesToHex, type Hex } from 'viem'
import type { CostLimits } from '../../clients/abuse/CostLimiter.js'
import { AuthError } from '../../clients/auth/errors.js'
import { findSession } from '../../clients/auth/sessionStore.js'
import { touchClient } from '../../clients/clientDirectory.js'
import { wakeClient } from '../../clients/lifecycle/clientStages.js'
import type { RequestCosts } from '../../config/parseRequestCosts.js'
import type { PlanLimits } from '../../config/planQuotas.js'
import { NoLeaderError } from '../../lifecycle/leadership/errors.js'
import { urgently } from '../../storage/urgency.js'
import type { AppContext } from '../AppContext.js'
import { sendToLeader } from './forwardToLeader.js'

export type SessionClient = {
  id: Hex
  idBytes: Uint8Array
  token: string
  /** When the client signed in for this session (refreshes keep it). */
  signedInAt: Date
  /** The name of the client's plan and its limits, as they stand for this request. */
  planName: string
  plan: PlanLimits
}

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

/** Whether a client's backlog leaves room under its plan (a full one keeps it dormant). */
export function withinBacklog(
  client: { backlogItems: number; backlogBytes: number },
  plan: PlanLimits,
): boolean {
  return client.backlogItems < plan.backlogItems && client.backlogBytes < plan.backlogBytes
}

/**
 * What a request costs the limits, by its route class: reads are cheap, writes dearer; sign-in
 * costs hashing, a stream holds a socket, a proof costs the node a whole block or a trie walk.
 * The class is that of the route the router matched, never read off the raw URL: the router
 * decodes `%76` to `v`, so `/%761/auth/…` is a sign-in like `/v1/auth/…`.
 */
export function requestCost(request: FastifyRequest, costs: RequestCosts): number {
  const route = request.routeOptions.url ?? ''
  if (route.startsWith('/v1/auth')) return costs.auth
  if (route.startsWith('/v1/stream')) return costs.stream
  if (route.startsWith('/v1/proofs')) return costs.proof
  return request.method === 'GET' || request.method === 'HEAD' ? costs.read : costs.write
}

/**
 * Whether a request is paid for by its IP subnet: every route of the client API, as matched. A
 * path no route matches is answered 404 without touching the database, and is not charged.
 */
export function chargedToSubnet(request: FastifyRequest): boolean {
  return request.routeOptions.url?.startsWith('/v1/') === true
}

/**
 * Every route in the scope needs "Authorization: Bearer <session token>". The client's last
 * contact is refreshed at most once a minute, which is all the pruning policy needs; so is the
 * filter work counted while it was absent. A dormant client whose backlog is within its plan's
 * bounds is back: it is woken, and its queue gets a `gap` item.
 */
/** A standby wakes a returning client by sending the leader a cheap request of that client's. */
async function wakeThroughLeader(context: AppContext, request: FastifyRequest): Promise<void> {
  const answer = await sendToLeader(context, {
    method: 'GET',
    url: '/v1/usage',
    headers: { authorization: request.headers.authorization },
    body: undefined,
    id: request.id,
  })
  await answer.body?.cancel()
  if (!answer.ok) throw new NoLeaderError(`the leader answered ${answer.status} to waking the client`)
}

/** Last contact recorded per client, shared by every scope of one app: a wallet's first request
 * after signing in and its stream opening do not both write it. */
const touchedByContext = new WeakMap<AppContext, Map<Hex, number>>()
const touchedOf = (context: AppContext): Map<Hex, number> => {
  const touched = touchedByContext.get(context) ?? new Map<Hex, number>()
  touchedByContext.set(context, touched)
  return touched
}

export function requireSession(app: FastifyInstance, context: AppContext): void {
  if (!app.hasRequestDecorator('client')) app.decorateRequest('client', undefined)
  const touched = touchedOf(context)
  const owners = new Map<string, { id: Hex; limits: CostLimits }>()
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
    // A token seen before names its client: one over its hard limit is refused before the
    // database is asked anything, so a flood costs a map lookup per request.
    const known = owners.get(token)
    if (known && !request.forwarded)
      context.limiter.refuseEarly(
        'client',
        known.id,
        requestCost(request, context.config.requestCosts),
        known.limits,
      )
    // A stream's opening goes ahead of the crowd: it is what a wallet waits on to hear anything.
    const opensStream = request.routeOptions.url?.startsWith('/v1/stream') === true
    const urgentIf = <T>(work: () => Promise<T>) => (opensStream ? urgently(work) : work())
    const session = await urgentIf(() => findSession(db, token))
    if (!session) throw new AuthError('SESSION_INVALID', 'Unknown or expired session token')
    const id = bytesToHex(session.clientId)
    const plan = context.plans.get(session.plan)
    request.client = {
      id,
      idBytes: session.clientId,
      token,
      signedInAt: session.signedInAt,
      planName: session.plan,
      plan,
    }
    if (owners.size >= 100_000) owners.clear()
    owners.set(token, { id, limits: context.limiter.limitsOf('client', plan) })
    if (!request.forwarded) {
      usage.add(id, 'requests')
      const delay = context.limiter.charge(
        'client',
        id,
        requestCost(request, context.config.requestCosts),
        context.limiter.limitsOf('client', plan),
      )
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    }
    if (session.stage !== 'active' && withinBacklog(session, plan)) {
      // Waking puts the client back into the follower's indexes: the leader's to do.
      if (context.leadership().kind === 'leader') await wakeClient(context.leader(), id)
      else await wakeThroughLeader(context, request)
    }
    const now = Date.now()
    if ((touched.get(id) ?? 0) + TOUCH_INTERVAL_MS < now) {
      touched.set(id, now)
      if (touched.size > 100_000) touched.clear()
      await urgentIf(() => touchClient(db, session.clientId))
    }
  })
}
