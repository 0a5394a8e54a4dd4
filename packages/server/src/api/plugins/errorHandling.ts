import type { ErrorCode } from '@wallet-backend/sdk/protocol'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BaseError, isClientErrorCode } from '../../errors/BaseError.js'
import type { ErrorResponse } from '../schemas/ErrorResponse.js'

/** Fastify's own error codes mapped to ours, so that a client never has to know the framework. */
const FRAMEWORK_ERRORS: Record<string, { status: number; code: ErrorCode }> = {
  FST_ERR_VALIDATION: { status: 400, code: 'INVALID_REQUEST' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_BAD_URL: { status: 400, code: 'INVALID_URL' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'INVALID_REQUEST' },
}

/** What a client is told of an error: HTTP status and the fields of an error answer or `error` frame. */
export type ErrorAnswer = {
  status: number
  body: { code: ErrorCode; message: string; details?: Record<string, unknown> }
}

const INTERNAL_MESSAGE = 'Internal error; the request id finds it in the logs'

/**
 * The one mapping from an error to what a client sees, for HTTP answers and stream frames alike:
 * a catalogue error as it is; anything else (a bug, or an error only an operator should read)
 * as `fallback`, without its message, which may name internals.
 */
export function toErrorAnswer(error: unknown, fallback: ErrorCode = 'INTERNAL'): ErrorAnswer {
  if (error instanceof BaseError && isClientErrorCode(error.code)) {
    return {
      status: error.status,
      body: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      },
    }
  }
  return { status: 500, body: { code: fallback, message: INTERNAL_MESSAGE } }
}

/** RFC 9457: the problem type of a code, a stable URI that names it. */
const problemType = (code: string) => `urn:wallet-backend:error:${code}`
const problemTitle = (code: string) => code.toLowerCase().replaceAll('_', ' ')

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  body: Pick<ErrorResponse, 'code' | 'message' | 'details'>,
) {
  const problem: ErrorResponse = {
    type: problemType(body.code),
    title: problemTitle(body.code),
    status,
    ...body,
    requestId: request.id,
  }
  return reply.status(status).type('application/problem+json; charset=utf-8').send(problem)
}

/**
 * 503s that pass by themselves and tell the client when to come back: NOT_READY (every start,
 * until the storage and the node are connected), NO_LEADER (a failover, until a standby has taken
 * over) and STORAGE_BUSY (a crowd, until connections free up). Logged without a stack, at warn
 * where many in a row would say something is wrong.
 */
const PASSING: Partial<Record<string, 'info' | 'warn'>> = {
  NOT_READY: 'info',
  NO_LEADER: 'warn',
  STORAGE_BUSY: 'warn',
}

/**
 * Every error leaves as the JSON error shape with the right status. Bad input is a 4xx with a
 * stable code; a 5xx means a bug or an outage, and is logged with its stack — except the 503s
 * that pass by themselves (above): nothing to act on.
 */
export function errorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | BaseError | Error, request, reply) => {
    if (error instanceof BaseError) {
      const answer = toErrorAnswer(error)
      const passing = PASSING[error.code]
      if (passing) request.log[passing]({ code: error.code }, error.message)
      else if (answer.status >= 500) request.log.error({ err: error }, error.message)
      const retryAfter = answer.body.details?.retryAfterSeconds
      if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)))
      return send(reply, request, answer.status, answer.body)
    }
    const fastifyError = error as FastifyError
    const known = fastifyError.code ? FRAMEWORK_ERRORS[fastifyError.code] : undefined
    if (known) {
      const details =
        fastifyError.validation && fastifyError.validation.length > 0
          ? {
              issues: fastifyError.validation.map((issue) => ({
                path: `${fastifyError.validationContext ?? ''}${issue.instancePath}`,
                message: issue.message,
              })),
            }
          : undefined
      return send(reply, request, known.status, {
        code: known.code,
        message: fastifyError.message,
        ...(details ? { details } : {}),
      })
    }
    const status = fastifyError.statusCode
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return send(reply, request, status, { code: 'BAD_REQUEST', message: fastifyError.message })
    }
    request.log.error({ err: error }, 'unhandled error')
    return send(reply, request, 500, toErrorAnswer(error).body)
  })

  app.setNotFoundHandler((request, reply) =>
    send(reply, request, 404, {
      code: 'NOT_FOUND',
      message: `No route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`,
    }),
  )
}
