import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Hex } from 'viem'
import { subnetOf } from '../../clients/abuse/subnetOf.js'
import type { UsageCounter } from '../../clients/usage/UsageMeter.js'
import type { PlanLimits } from '../../config/planQuotas.js'
import type { AppContext } from '../AppContext.js'
import { sessionOf } from './requireSession.js'

/** Bytes per unit of cost, sent or received (a read request costs 1). */
export const BYTES_PER_COST_UNIT = 16 * 1024

/**
 * Charges a client for bytes it was sent — an answer, stream frames, JSON-RPC notifications —
 * metered in its usage as `counter` (when given) and spent from its cost limit. The bytes went out (the work is
 * done), so nothing is refused here; the client's next requests pay for them.
 *
 * @returns seconds until the client is back under its hard limit; 0 when it is not over it
 */
export function chargeDelivered(
  context: AppContext,
  client: { id: Hex; plan: PlanLimits },
  bytes: number,
  counter?: UsageCounter,
): number {
  if (bytes === 0) return 0
  if (counter) context.runtime().usage.add(client.id, counter, bytes)
  return context.limiter.spend(
    'client',
    client.id,
    bytes / BYTES_PER_COST_UNIT,
    context.limiter.limitsOf('client', client.plan),
  )
}

/**
 * An `onSend` hook that charges the signed-in client for the bytes of a successful answer, as
 * serialised: a list read costs what it sends, not one unit however long the list. `counter`
 * meters the bytes in the client's usage.
 */
export function chargeResponseBytes(context: AppContext, counter?: UsageCounter) {
  return async (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (reply.statusCode >= 400 || request.forwarded) return payload
    const bytes =
      typeof payload === 'string' ? Buffer.byteLength(payload) : Buffer.isBuffer(payload) ? payload.length : 0
    chargeDelivered(context, sessionOf(request), bytes, counter)
    return payload
  }
}

/**
 * Charges the signed-in client for the bytes of its request body, before the work is done: a
 * write that stores what it sends (an interest and its ABI) costs by its size.
 */
export async function chargeRequestBytes(context: AppContext, request: FastifyRequest): Promise<void> {
  const length = Number(request.headers['content-length'] ?? 0)
  const bytes =
    Number.isSafeInteger(length) && length > 0
      ? length
      : Buffer.byteLength(JSON.stringify(request.body ?? null))
  await chargeBytes(context, request, bytes)
}

/**
 * Charges bytes a request brings or takes (a body in or out) to its client and its subnet, on top
 * of the request's own cost, at `bytesPerUnit`. Slows the request down above the soft limit,
 * refuses it with 429 RATE_LIMITED above the hard one, before the bytes are written or sent.
 */
export async function chargeBytes(
  context: AppContext,
  request: FastifyRequest,
  bytes: number,
  bytesPerUnit = BYTES_PER_COST_UNIT,
): Promise<void> {
  if (request.forwarded) return
  const client = sessionOf(request)
  const units = bytes / bytesPerUnit
  const delay = Math.max(
    context.limiter.charge('subnet', subnetOf(request.ip), units),
    context.limiter.charge('client', client.id, units, context.limiter.limitsOf('client', client.plan)),
  )
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
}
