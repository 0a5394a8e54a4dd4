import { type Static, Type } from '@sinclair/typebox'
import { Cursor } from './common.js'
import { DeliveryItem } from './deliveryItem.js'

/** `GET /v1/deliveries` */
export const DeliveriesQuery = Type.Object(
  { after: Type.Optional(Cursor), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) },
  { additionalProperties: false },
)
export const DeliveriesPage = Type.Object({
  items: Type.Array(Type.Ref(DeliveryItem)),
  lastCursor: Type.Integer({ description: 'Cursor of the newest item queued so far' }),
})
export type DeliveriesPage = { items: DeliveryItem[]; lastCursor: number }

/** `POST /v1/deliveries/ack` */
export const AckBody = Type.Object({ cursor: Cursor }, { additionalProperties: false })
export const AckResult = Type.Object({ acked: Type.Integer() })
export type AckResult = Static<typeof AckResult>

/** `GET /v1/stream` (the WebSocket upgrade) */
export const StreamQuery = Type.Object(
  { after: Type.Optional(Cursor), token: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
)
