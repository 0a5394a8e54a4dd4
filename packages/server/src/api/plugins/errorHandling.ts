import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BaseError } from '../../errors/BaseError.js'
import { NotReadyError } from '../NotReadyError.js'
import type { ErrorResponse } from '../schemas/ErrorResponse.js'

/** Fastify's own error codes mapped to ours, so that a client never has to know the framework. */
const FRAMEWORK_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_VALIDATION: { status: 400, code: 'INVALID_REQUEST' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_BAD_URL: { status: 400, code: 'INVALID_URL' },
  FST_ERR_ASYNC_CONSTRAINT: { status: 400, code: 'INVALID_REQUEST' },
}

function send(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  body: Omit<ErrorResponse, 'requestId'>,
) {
  return reply
    .status(status)
    .type('application/json; charset=utf-8')
    .send({ ...body, requestId: request.id })
}

/**
 * Every error leaves as the JSON error shape with the right status. Bad input is a 4xx with a
 * stable code; a 5xx means a bug or an outage, and is logged with its stack — except NOT_READY,
 * which every start answers until the storage and the node are connected: nothing to act on.
 */
export function errorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | BaseError | Error, request, reply) => {
    if (error instanceof BaseError) {
      if (error instanceof NotReadyError) request.log.info({ code: error.code }, error.message)
      else if (error.status >= 500) request.log.error({ err: error }, error.message)
      const retryAfter = error.details?.retryAfterSeconds
      if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)))
      return send(reply, request, error.status, {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: error.details } : {}),
      })
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
    return send(reply, request, 500, {
      code: 'INTERNAL',
      message: 'Internal error; the request id finds it in the logs',
    })
  })

  app.setNotFoundHandler((request, reply) =>
    send(reply, request, 404, {
      code: 'NOT_FOUND',
      message: `No route ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`,
    }),
  )
}
