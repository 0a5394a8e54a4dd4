import type { Server, Socket } from 'node:net'
import { BaseError } from '../../errors/BaseError.js'

/** Connections one address may hold beyond the bound, each for one answer saying why (or /health). */
export const CONNECTIONS_OVER_BOUND = 32
/** How long a connection beyond the bound may take to send its request before it is closed. */
const OVER_BOUND_TIMEOUT_MS = 5_000

const overBound = new WeakSet<Socket>()

/**
 * Whether `socket` arrived while its address held the bound: it gets one answer, a refusal with
 * a reason and a retry hint (or `/health` and `/ready`, which always answer), and is closed.
 */
export const beyondConnectionBound = (socket: Socket): boolean => overBound.has(socket)

/**
 * Bounds the TCP connections one IP address holds open on `server`. Up to
 * `CONNECTIONS_OVER_BOUND` more are let in to be told why (see `beyondConnectionBound`), with a
 * short timeout; one more than that is destroyed as it arrives, before a byte of it is read, so a
 * single host cannot exhaust the server's sockets. Returns the count of connections open per
 * address (for tests and health).
 */
export function limitConnectionsPerIp(
  server: Server,
  max: () => number,
  options: {
    onRefused?: (ip: string) => void
    /** Addresses held to no bound: trusted proxies, which carry the connections of many clients. */
    exempt?: (ip: string) => boolean
  } = {},
): Map<string, number> {
  const open = new Map<string, number>()
  const onRefused = options.onRefused ?? (() => {})
  server.on('connection', (socket: Socket) => {
    const ip = socket.remoteAddress ?? 'unknown'
    if (options.exempt?.(ip)) return
    const count = open.get(ip) ?? 0
    if (count >= max()) {
      onRefused(ip)
      if (count >= max() + CONNECTIONS_OVER_BOUND) {
        socket.destroy()
        return
      }
      overBound.add(socket)
      socket.setTimeout(OVER_BOUND_TIMEOUT_MS, () => socket.destroy())
    }
    open.set(ip, count + 1)
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1
      if (left > 0) open.set(ip, left)
      else open.delete(ip)
    })
  })
  return open
}

/** A request on a connection beyond its address's bound: told why, with when to try again. */
export class TooManyConnectionsError extends BaseError {
  override readonly name = 'TooManyConnectionsError'
  constructor(limit: number) {
    super(
      'TOO_MANY_CONNECTIONS',
      `This IP address holds ${limit} connections, the most one address may; retry later or close one`,
      { status: 503, details: { limit, retryAfterSeconds: RETRY_AFTER_SECONDS } },
    )
  }
}

/** What a refused connection is told to wait: long enough for a slot to free, short enough for a wallet. */
const RETRY_AFTER_SECONDS = 10
