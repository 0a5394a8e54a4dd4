import { type Static, Type } from '@sinclair/typebox'

/** The one error shape of the API (docs/api.md, Errors): a stable `code` to match on and a `message` for people. */
export const ErrorResponse = Type.Object(
  {
    code: Type.String({ description: 'Stable machine-readable error code, e.g. INVALID_REQUEST' }),
    message: Type.String({ description: 'What went wrong, for people' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    requestId: Type.String({ description: 'Echoed in the x-request-id header and in the server logs' }),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse' },
)
export type ErrorResponse = Static<typeof ErrorResponse>

/** Shorthand for route schemas: the error responses a route can answer with. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, { $ref: 'ErrorResponse#' }]))
}
