import { type Static, Type } from '@sinclair/typebox'
import { ErrorCode } from './errorCodes.js'

/**
 * The one error shape of the API, an RFC 9457 problem (`application/problem+json`): a stable
 * `code` to match on, `message` for people, and the problem fields `type`, `title`, `status`.
 */
export const ErrorResponse = Type.Object(
  {
    code: ErrorCode,
    message: Type.String({ description: 'What went wrong, for people' }),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    requestId: Type.String({ description: 'Echoed in the x-request-id header and in the server logs' }),
    type: Type.String({ description: 'RFC 9457 problem type: a URI naming the code' }),
    title: Type.String({ description: 'RFC 9457 title: the same for every error of a code' }),
    status: Type.Integer({ description: 'The HTTP status, repeated' }),
  },
  { $id: 'ErrorResponse', title: 'ErrorResponse' },
)
export type ErrorResponse = Static<typeof ErrorResponse>
