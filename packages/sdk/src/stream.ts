import { parseRetryAfter, StreamError } from './errors.js'
import type { DeliveryItem } from './types.js'

/** The part of a WebSocket the stream uses: the browser's, Node ≥ 22's global one, or `ws`. */
export type WebSocketLike = {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** A WebSocket constructor; without one the SDK takes the global one, or `ws` on Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

export type StreamOptions = {
  /** Resume after this cursor; the stream keeps the last cursor it received and resumes from it. */
  after?: number
  onItem: (item: DeliveryItem) => void | Promise<void>
  /**
   * Acknowledge each item once `onItem` has returned (or its promise resolved), so a handler that
   * stores the item is all a wallet writes. Acks of items handled together go out as one. An
   * `onItem` that throws acknowledges nothing: the item comes again after the reconnect.
   * Default false: the wallet calls `stream.ack(cursor)` itself, when what it did with the items
   * is durable.
   */
  autoAck?: boolean
  /** Errors of the stream, a `StreamError` with a code; the stream keeps going unless closed. */
  onError?: (error: Error) => void
  /** The server acknowledged everything up to `cursor` (an `{type:"acked"}` frame). */
  onAcked?: (cursor: number) => void
  /** Each time the socket is open (first connection and every reconnection). */
  onOpen?: () => void
  /**
   * Reconnect delay bounds in ms: the n-th attempt in a row waits a random time up to
   * min(maxReconnectMs, minReconnectMs × 2^n) (exponential backoff, full jitter), and at least
   * what the server asked (`retryAfterSeconds`). Defaults 200 ms and 10 s.
   */
  minReconnectMs?: number
  maxReconnectMs?: number
}

/**
 * How long to wait before reconnection attempt `attempt` (0 for the first after a drop): full
 * jitter over an exponentially growing window, so that wallets dropped together (a restart, a
 * limit) do not come back together; never sooner than the server's hint, itself spread over as
 * long again.
 */
export function reconnectDelay(
  attempt: number,
  options: { minMs: number; maxMs: number; retryAfterSeconds?: number | undefined; random?: () => number },
): number {
  const random = options.random ?? Math.random
  const window = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30))
  const jittered = random() * window
  if (options.retryAfterSeconds === undefined) return jittered
  const hint = options.retryAfterSeconds * 1000
  return hint + random() * Math.max(hint, options.minMs)
}

/** What a server that refused the upgrade said: its HTTP status, error code and retry hint. */
type Refusal = { status: number; code: string; message: string; retryAfterSeconds: number | undefined }

/** `ws` (Node) lets the answer to a refused upgrade be read; browsers do not. */
type RefusalReadable = {
  once(event: 'unexpected-response', listener: (request: unknown, response: RefusedResponse) => void): void
  terminate(): void
}
type RefusedResponse = {
  statusCode?: number
  headers: Record<string, string | string[] | undefined>
  on(event: 'data', listener: (chunk: Uint8Array) => void): void
  on(event: 'end' | 'error', listener: () => void): void
  destroy(): void
}

/** Reads the status, `Retry-After` and JSON error body of a refused upgrade (at most 4 KiB of it). */
function readRefusal(response: RefusedResponse, done: (refusal: Refusal) => void): void {
  const status = response.statusCode ?? 0
  const header = response.headers['retry-after']
  const retryAfterSeconds = parseRetryAfter(Array.isArray(header) ? (header[0] ?? null) : (header ?? null))
  let body = ''
  let finished = false
  const finish = () => {
    if (finished) return
    finished = true
    let parsed: { code?: unknown; message?: unknown } = {}
    try {
      parsed = JSON.parse(body) as typeof parsed
    } catch {}
    done({
      status,
      code: typeof parsed.code === 'string' ? parsed.code : `HTTP_${status}`,
      message: typeof parsed.message === 'string' ? parsed.message : `the server answered ${status}`,
      retryAfterSeconds,
    })
  }
  response.on('data', (chunk) => {
    body += new TextDecoder().decode(chunk)
    if (body.length > 4096) {
      response.destroy()
      finish()
    }
  })
  response.on('end', finish)
  response.on('error', finish)
}

/** The HTTP status and retry hint of a failed sign-in, when the server answered. */
function statusOf(error: unknown): { status?: number; retryAfterSeconds?: number } {
  const { status, retryAfterSeconds } = (error ?? {}) as { status?: unknown; retryAfterSeconds?: unknown }
  return {
    ...(typeof status === 'number' ? { status } : {}),
    ...(typeof retryAfterSeconds === 'number' ? { retryAfterSeconds } : {}),
  }
}

/** The server's "in N s" of a close reason (e.g. a rate limit's), as a retry hint. */
const retryHintOf = (reason: string): number | undefined => {
  const match = / in (\d+) s\b/.exec(reason)
  return match ? Number(match[1]) : undefined
}

export type Stream = {
  /** Cursor of the last item handed to onItem. */
  readonly lastCursor: number
  /** The highest cursor the server confirmed acknowledged on this stream (0 before any). */
  readonly ackedCursor: number
  /**
   * Acknowledges every item up to `cursor`. Never throws: while the socket is not open the ack
   * waits and is sent once it is open again (only the highest waiting one); `onAcked` reports the
   * server's confirmation, `onError` its refusal.
   */
  ack(cursor: number): void
  /** Whether the stream is over: closed by the wallet, or stopped by a refusal it cannot mend (`onError` said which). */
  readonly stopped: boolean
  close(): void
}

/** What the stream needs of its client: a WebSocket constructor and a signed-in URL to open. */
export type StreamConnector = {
  webSocket(): Promise<WebSocketConstructor>
  /**
   * The stream URL with a fresh session token, resuming after `after`; `registered` says the
   * sign-in it took registered the client key anew.
   */
  url(after: number): Promise<{ url: string; registered: boolean }>
  /** The server no longer knows the session: the next `url()` signs in again. */
  sessionRefused(): void
}

/**
 * Refusals that trying again cannot mend: the stream reports them and stops. A sign-in refused for
 * what the client sent (its signature, its message — 4xx other than 408 and 429), and a client the
 * backend deleted (its key had to be registered again: its interests and queue are gone, and the
 * wallet must set them up anew). A pruned client is not one: it signs in again and its stream
 * goes on with a `gap` item.
 */
function isFatal(error: unknown): boolean {
  const { status } = statusOf(error)
  return status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429
}

const OPEN = 1

type Frame =
  | { type: 'item'; item: DeliveryItem }
  | { type: 'acked'; cursor: number }
  | { type: 'error'; code: string; message: string }

/** Pushed deliveries over a WebSocket that reconnects by itself and resumes after its last cursor. */
export function openStream(connector: StreamConnector, options: StreamOptions): Stream {
  const report = (error: StreamError) => {
    // A failing error handler must not end the stream (or the process) either.
    try {
      options.onError?.(error)
    } catch {}
  }
  const minDelay = options.minReconnectMs ?? 200
  let lastCursor = options.after ?? 0
  let closed = false
  let socket: WebSocketLike | undefined
  const maxDelay = options.maxReconnectMs ?? 10_000
  // Attempts in a row without the stream opening: the backoff window grows with them.
  let attempt = 0
  let wantedAck = 0
  let ackedCursor = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  // Whether a stream was ever open: a registration after that means the client was deleted.
  let everOpened = false
  let ackSoon: ReturnType<typeof setTimeout> | undefined

  const sendAck = () => {
    if (socket?.readyState !== OPEN || wantedAck <= ackedCursor) return
    try {
      socket.send(JSON.stringify({ type: 'ack', cursor: wantedAck }))
    } catch {
      // The socket went away between the check and the send: its close reconnects and sends again.
    }
  }

  const connect = async () => {
    timer = undefined
    if (closed) return
    let ws: WebSocketLike
    try {
      const WebSocketImpl = await connector.webSocket()
      const { url, registered } = await connector.url(lastCursor)
      if (closed) return
      if (registered && everOpened) {
        return stop(
          new StreamError(
            'CLIENT_DELETED',
            'the backend had deleted this client (abandoned past its retention, or by an operator): its key was registered again, with no interests and an empty queue; set them up again and open a new stream',
          ),
        )
      }
      ws = new WebSocketImpl(url)
    } catch (error) {
      const failure = new StreamError(
        'SIGN_IN_FAILED',
        `could not open the stream: ${(error as Error).message}`,
        undefined,
        error,
        statusOf(error),
      )
      if (isFatal(error)) return stop(failure)
      report(failure)
      return retry(failure.retryAfterSeconds)
    }
    socket = ws
    let opened = false
    let refusal: Refusal | undefined
    const readable = ws as unknown as Partial<RefusalReadable>
    if (typeof readable.once === 'function' && typeof readable.terminate === 'function') {
      readable.once('unexpected-response', (_request, response) =>
        readRefusal(response, (read) => {
          refusal = read
          readable.terminate?.()
        }),
      )
    }
    // Items are handed over one at a time, in order, even if onItem is slow; those of a
    // connection given up on are not handed over (they come again after the reconnect).
    let chain = Promise.resolve()
    let alive = true
    ws.onopen = () => {
      opened = true
      everOpened = true
      attempt = 0
      sendAck()
      options.onOpen?.()
    }
    ws.onmessage = (event) => {
      let frame: Frame
      try {
        frame = JSON.parse(String(event.data)) as Frame
      } catch {
        return report(new StreamError('INVALID_FRAME', 'the server sent a frame that is not JSON'))
      }
      if (frame.type === 'acked') {
        if (frame.cursor > ackedCursor) ackedCursor = frame.cursor
        options.onAcked?.(frame.cursor)
      } else if (frame.type === 'error') {
        // Acks are the only messages the stream sends: the waiting one was refused, and a later
        // ack (even a lower one) must be sent rather than be taken as already waiting.
        wantedAck = ackedCursor
        report(new StreamError(frame.code, frame.message))
      } else if (frame.type === 'item' && frame.item) {
        const item = frame.item
        chain = chain.then(async () => {
          if (!alive || closed || item.cursor <= lastCursor) return
          try {
            await options.onItem(item)
            lastCursor = item.cursor
            if (options.autoAck && item.cursor > wantedAck) {
              wantedAck = item.cursor
              // Items handed over in one burst are acknowledged together, after the last of them.
              ackSoon ??= setTimeout(() => {
                ackSoon = undefined
                sendAck()
              }, 0)
            }
          } catch (error) {
            alive = false
            report(
              new StreamError(
                'ITEM_HANDLER_FAILED',
                `onItem failed on cursor ${item.cursor}`,
                undefined,
                error,
              ),
            )
            ws.close(1000, 'item handler failed')
          }
        })
      }
    }
    ws.onerror = () => {}
    ws.onclose = (event) => {
      alive = false
      if (socket === ws) socket = undefined
      if (closed) return
      let error: StreamError
      if (refusal) {
        if (refusal.code === 'SESSION_INVALID') connector.sessionRefused()
        error = new StreamError(
          refusal.code,
          `stream refused (${refusal.status}): ${refusal.message}`,
          event.code,
          undefined,
          {
            status: refusal.status,
            ...(refusal.retryAfterSeconds !== undefined
              ? { retryAfterSeconds: refusal.retryAfterSeconds }
              : {}),
          },
        )
      } else if (!opened) {
        error = new StreamError(
          'CONNECT_FAILED',
          `could not open the stream (${event.code}${event.reason ? ` ${event.reason}` : ''}): the backend is unreachable or refused the connection`,
          event.code,
        )
      } else {
        const hint = retryHintOf(event.reason)
        error = new StreamError(
          'STREAM_CLOSED',
          `stream closed (${event.code} ${event.reason})`,
          event.code,
          undefined,
          hint !== undefined ? { retryAfterSeconds: hint } : {},
        )
      }
      report(error)
      retry(error.retryAfterSeconds)
    }
  }
  const stop = (error: StreamError) => {
    closed = true
    report(error)
  }
  const retry = (retryAfterSeconds: number | undefined) => {
    if (closed) return
    const delay = reconnectDelay(attempt, { minMs: minDelay, maxMs: maxDelay, retryAfterSeconds })
    attempt += 1
    timer = setTimeout(() => void connect(), delay)
  }
  void connect()
  return {
    get lastCursor() {
      return lastCursor
    },
    get ackedCursor() {
      return ackedCursor
    },
    get stopped() {
      return closed
    },
    ack: (cursor) => {
      if (!Number.isSafeInteger(cursor) || cursor < 0) {
        return report(new StreamError('INVALID_CURSOR', `cannot acknowledge ${cursor}: not a cursor`))
      }
      if (cursor <= wantedAck) return
      wantedAck = cursor
      sendAck()
    },
    close: () => {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      if (ackSoon !== undefined) clearTimeout(ackSoon)
      socket?.close(1000, 'client closed')
    },
  }
}

/** The global WebSocket (browsers, Node ≥ 22), else `ws` (Node 20). */
export async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (global) return global
  const ws = (await import('ws')) as unknown as { default: WebSocketConstructor }
  return ws.default
}
