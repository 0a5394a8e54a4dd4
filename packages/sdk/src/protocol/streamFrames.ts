import { type Static, Type } from '@sinclair/typebox'
import { Cursor } from './common.js'
import { DeliveryItem } from './deliveryItem.js'
import { ErrorCode } from './errorCodes.js'

// The stream's frames, both ways: JSON text messages on the WebSocket of GET /v1/stream.

/** Client → server: acknowledge everything up to `cursor` (the only message a client sends). */
export const AckFrame = Type.Object({ type: Type.Literal('ack'), cursor: Cursor }, { $id: 'AckFrame' })
export const ClientFrame = AckFrame
export type ClientFrame = Static<typeof ClientFrame>

/** Server → client: the next item of the queue. */
export const ItemFrame = Type.Object({ type: Type.Literal('item'), item: DeliveryItem }, { $id: 'ItemFrame' })
/** Server → client: an ack was stored; everything up to `cursor` is acknowledged. */
export const AckedFrame = Type.Object({ type: Type.Literal('acked'), cursor: Cursor }, { $id: 'AckedFrame' })
/** Server → client: a message was refused (or its ack failed); the stream stays open unless it closes with a reason. */
export const ErrorFrame = Type.Object(
  {
    type: Type.Literal('error'),
    code: ErrorCode,
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { $id: 'ErrorFrame' },
)
export const ServerFrame = Type.Union([ItemFrame, AckedFrame, ErrorFrame])
export type ServerFrame = Static<typeof ServerFrame>
export type ItemFrame = Static<typeof ItemFrame>
export type AckedFrame = Static<typeof AckedFrame>
export type ErrorFrame = Static<typeof ErrorFrame>

/**
 * Close codes the server ends a stream with; each reason says to reconnect with ?after=<last cursor>.
 * 1013: a slow consumer (it did not drain its backlog); 4029: rate limited (the reason says in how
 * many seconds); 1011: the stream failed.
 */
export const STREAM_CLOSE_CODES = { slowConsumer: 1013, rateLimited: 4029, failed: 1011 } as const
