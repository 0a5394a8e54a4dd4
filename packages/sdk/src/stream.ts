import { StreamError } from './errors.js'
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
  /** Errors of the stream, a `StreamError` with a code; the stream keeps going unless closed. */
  onError?: (error: Error) => void
  /** The server acknowledged everything up to `cursor` (an `{type:"acked"}` frame). */
  onAcked?: (cursor: number) => void
  /** Each time the socket is open (first connection and every reconnection). */
  onOpen?: () => void
  /** Reconnect delay bounds in ms (exponential backoff between them). */
  minReconnectMs?: number
  maxReconnectMs?: number
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
  close(): void
}

/** What the stream needs of its client: a WebSocket constructor and a signed-in URL to open. */
export type StreamConnector = {
  webSocket(): Promise<WebSocketConstructor>
  /** The stream URL with a fresh session token, resuming after `after`. */
  url(after: number): Promise<string>
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
  let delay = minDelay
  let wantedAck = 0
  let ackedCursor = 0
  let timer: ReturnType<typeof setTimeout> | undefined

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
      const url = await connector.url(lastCursor)
      if (closed) return
      ws = new WebSocketImpl(url)
    } catch (error) {
      report(
        new StreamError(
          'SIGN_IN_FAILED',
          `could not open the stream: ${(error as Error).message}`,
          undefined,
          error,
        ),
      )
      return retry()
    }
    socket = ws
    // Items are handed over one at a time, in order, even if onItem is slow; those of a
    // connection given up on are not handed over (they come again after the reconnect).
    let chain = Promise.resolve()
    let alive = true
    ws.onopen = () => {
      delay = minDelay
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
      report(new StreamError('STREAM_CLOSED', `stream closed (${event.code} ${event.reason})`, event.code))
      retry()
    }
  }
  const retry = () => {
    if (closed) return
    timer = setTimeout(() => void connect(), delay)
    delay = Math.min(delay * 2, options.maxReconnectMs ?? 10_000)
  }
  void connect()
  return {
    get lastCursor() {
      return lastCursor
    },
    get ackedCursor() {
      return ackedCursor
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
