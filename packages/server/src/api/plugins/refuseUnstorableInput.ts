import type { FastifyInstance } from 'fastify'
import { BaseError } from '../../errors/BaseError.js'

/** Objects and arrays within one another; the deepest a route of ours takes (an ABI's tuples) is about 12. */
export const MAX_INPUT_DEPTH = 32

export class InputTooDeepError extends BaseError {
  override readonly name = 'InputTooDeepError'
  constructor(path: string) {
    super('INPUT_TOO_DEEP', `${path}: arrays and objects may be nested at most ${MAX_INPUT_DEPTH} deep`, {
      status: 400,
      details: { path, limit: MAX_INPUT_DEPTH },
    })
  }
}

export class InvalidStringError extends BaseError {
  override readonly name = 'InvalidStringError'
  constructor(path: string) {
    super('INVALID_STRING', `${path}: a string may not hold U+0000 or a lone surrogate`, {
      status: 400,
      details: { path },
    })
  }
}

/**
 * JSON can say things the rest of the service cannot take: arrays nested thousands deep (which
 * overflow the stack of whatever walks them recursively: serialising, formatting an error) and
 * strings with U+0000 or a lone UTF-16 surrogate (which PostgreSQL refuses in text and jsonb).
 * Every request's query, path and body are walked once here, without recursion, before they are
 * validated, so such input is a 400 naming where it is rather than a 500 wherever it lands.
 */
export function refuseUnstorableInput(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    for (const [part, value] of [
      ['querystring', request.query],
      ['params', request.params],
      ['body', request.body],
    ] as const)
      checkInput(value, part)
  })
}

/** Throws InputTooDeepError or InvalidStringError for the first such thing in `value`. */
export function checkInput(value: unknown, root: string): void {
  const pending: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const { value: current, path, depth } = next
    if (typeof current === 'string') {
      if (!storable(current)) throw new InvalidStringError(path)
      continue
    }
    if (current === null || typeof current !== 'object' || ArrayBuffer.isView(current)) continue
    if (depth >= MAX_INPUT_DEPTH) throw new InputTooDeepError(path)
    for (const [key, item] of Object.entries(current)) {
      if (!storable(key)) throw new InvalidStringError(`${path}/${key.slice(0, 40)}`)
      pending.push({ value: item, path: `${path}/${key.slice(0, 40)}`, depth: depth + 1 })
    }
  }
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

function storable(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text)
}
