import type { FastifyRequest } from 'fastify'
import { subnetOf } from '../../clients/abuse/subnetOf.js'
import type { AppContext } from '../AppContext.js'
import { BYTES_PER_COST_UNIT } from '../routes/deliveryRoutes.js'
import { sessionOf } from './requireSession.js'

/**
 * Charges bytes a request brings or takes (a wallet-state body in or out) to its client and its
 * subnet, on top of the request's own cost: bytes sent at the price of delivered bytes, bytes
 * stored at `bytesPerUnit`. Slows the request down above the soft limit, refuses it with 429 above
 * the hard one, before the bytes are written or sent.
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
