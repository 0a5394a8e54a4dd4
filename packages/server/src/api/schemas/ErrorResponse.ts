import { ErrorResponse } from '@wallet-backend/sdk/protocol'

export { ErrorResponse }

/** Shorthand for route schemas: the error responses a route can answer with. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, { $ref: 'ErrorResponse#' }]))
}
