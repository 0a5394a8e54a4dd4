import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Counter } from 'prom-client'
import { subnetOf } from '../../clients/abuse/subnetOf.js'
import { BaseError } from '../../errors/BaseError.js'
import { NoLeaderError } from '../../lifecycle/leadership/errors.js'
import type { AppContext } from '../AppContext.js'
import { QuietEpisodes } from './QuietEpisodes.js'
import { sameSecret } from './sameSecret.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route changes what the chain follower keeps in memory: a standby forwards it to the leader. */
    leaderOnly?: boolean
  }
  interface FastifyRequest {
    /** Sent on by a standby that authenticated and charged it already. */
    forwarded: boolean
  }
}

/** Carries the term's secret from a standby to the leader: only instances can read it, from the database. */
export const FORWARDED_HEADER = 'x-wallet-backend-forwarded'
/** The origin of the instance the client called: sign-in messages name it, and the leader checks them against it. */
const FORWARDED_ORIGIN_HEADER = 'x-wallet-backend-forwarded-origin'
const REQUEST_HEADERS = ['authorization', 'content-type', 'if-match', 'if-none-match', 'user-agent']
const RESPONSE_HEADERS = ['content-type', 'retry-after', 'etag', 'location', 'cache-control']

/** After this long without a forged header, the next one is logged again. */
const FORGED_EPISODE_QUIET_MS = 60_000

export class ForgedForwardError extends BaseError {
  override readonly name = 'ForgedForwardError'
  constructor() {
    super('FORWARD_REFUSED', `${FORWARDED_HEADER} is for instances of this service only`, { status: 403 })
  }
}

/** Whether a forwarded header carries the term's secret. */
const secretMatches = (given: string | string[], secret: string | undefined): boolean =>
  typeof given === 'string' && secret !== undefined && sameSecret(given, secret)

/**
 * Several instances share one database, and one of them, the leader, follows the chain and keeps
 * the indexes it matches with in memory (docs/architecture.md, Several instances). A write that changes those — interests,
 * sign-ins that wake a client, submissions, admin stage changes — is checked and charged here
 * first, then sent on to the leader and its answer passed back as it is. On the leader, a request
 * with the term's secret is taken as forwarded: not charged twice, its admin token already checked.
 */
export function forwardToLeader(app: FastifyInstance, context: AppContext): void {
  app.decorateRequest('forwarded', false)
  const refused = new Counter({
    name: 'wallet_backend_forged_forwards_total',
    help: `Requests refused because their ${FORWARDED_HEADER} header did not carry the current term's secret`,
    registers: [context.metrics],
  })
  const episodes = new QuietEpisodes(FORGED_EPISODE_QUIET_MS)
  app.addHook('onRequest', async (request) => {
    const given = request.headers[FORWARDED_HEADER]
    if (given === undefined) return
    const leadership = context.leadership()
    if (leadership.kind === 'leader' && secretMatches(given, leadership.secret)) {
      request.forwarded = true
    } else if (leadership.kind === 'standby' && secretMatches(given, leadership.secret)) {
      // A peer forwarded under the term it knows, to an instance that has stopped leading since:
      // it answers instead of passing it on (never forwarded twice), and the peer retries.
      throw new NoLeaderError('the instance this was forwarded to no longer leads')
    } else {
      // Not from an instance: paid for like any request of the subnet, refused cheaply, and
      // logged once per episode rather than once per request.
      refused.inc()
      context.limiter.charge('subnet', subnetOf(request.ip), context.config.requestCosts.read)
      if (episodes.starts()) {
        request.log.warn(
          { ip: request.ip },
          `refusing requests with a forged ${FORWARDED_HEADER} header (logged once until they stop for a minute)`,
        )
      }
      throw new ForgedForwardError()
    }
  })
  app.addHook('preHandler', async (request, reply) => {
    if (!request.routeOptions.config.leaderOnly || request.forwarded) return
    const leadership = context.leadership()
    if (leadership.kind === 'leader') return
    const answer = await sendToLeader(context, request)
    reply.code(answer.status)
    for (const name of RESPONSE_HEADERS) {
      const value = answer.headers.get(name)
      if (value !== null) reply.header(name, value)
    }
    return reply.send(Buffer.from(await answer.arrayBuffer()))
  })
}

/**
 * The origin a sign-in message must name: this instance's, or for a request a standby forwarded
 * (authenticated by the term's secret), the standby's — the client signed what the standby issued.
 * Never the request's `Host`, which the client chooses.
 */
export function publicOriginOf(request: FastifyRequest, context: AppContext): string {
  const forwarded = request.forwarded ? request.headers[FORWARDED_ORIGIN_HEADER] : undefined
  return typeof forwarded === 'string' ? forwarded : context.publicOrigin()
}

/** Sends `request` (as validated here) to the leader; a leader out of reach is a 503 to retry. */
export async function sendToLeader(
  context: AppContext,
  request: Pick<FastifyRequest, 'method' | 'url' | 'headers' | 'body' | 'id'>,
): Promise<Response> {
  const leadership = context.leadership()
  if (leadership.kind === 'leader') throw new Error('sendToLeader called on the leader')
  if (!leadership.url || !leadership.secret) throw new NoLeaderError('no leader has been elected yet')
  const headers = new Headers({ [FORWARDED_HEADER]: leadership.secret, 'x-request-id': request.id })
  headers.set(FORWARDED_ORIGIN_HEADER, context.publicOrigin())
  for (const name of REQUEST_HEADERS) {
    const value = request.headers[name]
    if (typeof value === 'string') headers.set(name, value)
  }
  const hasBody = request.body !== undefined && request.body !== null
  if (hasBody) headers.set('content-type', 'application/json')
  try {
    return await fetch(new URL(request.url, leadership.url), {
      method: request.method,
      headers,
      ...(hasBody ? { body: JSON.stringify(request.body) } : {}),
      signal: AbortSignal.timeout(context.config.requestTimeoutMs),
    })
  } catch (error) {
    throw new NoLeaderError(`the leader at ${leadership.url} does not answer: ${(error as Error).message}`)
  }
}
