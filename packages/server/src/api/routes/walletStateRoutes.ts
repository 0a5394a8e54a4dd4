import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { BaseError } from '../../errors/BaseError.js'
import {
  listWalletStateVersions,
  readWalletState,
  readWalletStateVersion,
  writeWalletState,
} from '../../wallet-state/walletStateStore.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { chargeBytes } from '../plugins/chargeBytes.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

class WalletStateError extends BaseError {
  override readonly name = 'WalletStateError'
}

const RAW_TYPES = ['application/jose', 'application/octet-stream', 'text/plain']

/** Strong ETag header value: the SHA-256 hex of the stored bytes, quoted. */
const quoted = (etag: string) => `"${etag}"`
/**
 * ETags from a header: quoted or not (the seed's clients send them bare), comma-separated. A weak
 * tag (`W/"…"`) counts under weak comparison (If-None-Match) and is kept as it is under strong
 * comparison (If-Match, RFC 9110 §13.1.1), where it then matches no stored ETag.
 */
function etagsIn(header: string | string[] | undefined, comparison: 'weak' | 'strong'): string[] {
  const value = Array.isArray(header) ? header.join(',') : header
  if (!value) return []
  const unquoted = (tag: string) => tag.replace(/^"(.*)"$/, '$1')
  return value
    .split(',')
    .map((part) => part.trim())
    .map((tag) => {
      if (!tag.startsWith('W/')) return unquoted(tag)
      return comparison === 'weak' ? unquoted(tag.slice(2)) : tag
    })
    .filter((tag) => tag !== '')
}

function precondition(request: FastifyRequest): { etag: string } | { absent: true } | undefined {
  const ifMatch =
    request.headers['if-match'] ??
    request.headers['x-private-data-if-match'] ??
    request.headers['x-private-data-etag']
  const [etag] = etagsIn(ifMatch, 'strong')
  if (etag) return { etag }
  if (etagsIn(request.headers['if-none-match'], 'weak').includes('*')) return { absent: true }
  return undefined
}

const VersionParams = Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) })

/**
 * The client's end-to-end encrypted wallet state (docs/wallet-state.md): opaque bytes the server never
 * reads, an ETag that is the hash of exactly those bytes, compare-and-set writes, recent versions.
 */
export async function walletStateRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  requireSession(app, context)
  // The body is refused while it streams in above the largest plan's quota; each client's own
  // plan is checked once it is in.
  const largest = context.plans.max('walletStateBytes')
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: largest + 1 }, (_request, body, done) =>
    done(null, body),
  )
  const security = [{ session: [] }]
  const sendBytes = (reply: FastifyReply, etag: string, data: Uint8Array) =>
    reply.header('etag', quoted(etag)).type('application/jose').send(Buffer.from(data))

  app.get(
    '/',
    {
      schema: {
        tags: ['wallet-state'],
        summary: 'The encrypted wallet state, with its ETag; 304 for a matching If-None-Match',
        security,
        response: {
          200: { type: 'string', description: 'The stored ciphertext' },
          304: Type.Null(),
          ...errorResponses(401, 404),
        },
      },
    },
    async (request, reply) => {
      const stored = await readWalletState(context.runtime().db, sessionOf(request).idBytes)
      if (!stored)
        throw new WalletStateError('WALLET_STATE_NOT_FOUND', 'No wallet state stored yet', { status: 404 })
      if (etagsIn(request.headers['if-none-match'], 'weak').includes(stored.etag)) {
        return reply.status(304).header('etag', quoted(stored.etag)).send()
      }
      await chargeBytes(context, request, stored.data.length)
      return sendBytes(reply, stored.etag, stored.data)
    },
  )

  app.put(
    '/',
    {
      bodyLimit: largest + 1,
      schema: {
        tags: ['wallet-state'],
        summary: 'Store a new encrypted wallet state if the current one is the one named by If-Match',
        description:
          'Preconditions: If-Match (also X-Private-Data-If-Match or X-Private-Data-ETag) with the current ETag, or ' +
          'If-None-Match: * for the first write. Body: the ciphertext as application/jose (or octet-stream, text/plain).',
        security,
        response: {
          200: Type.Object({ etag: Type.String(), version: Type.Integer() }),
          201: Type.Object({ etag: Type.String(), version: Type.Integer() }),
          ...errorResponses(400, 401, 412, 413, 415, 428),
        },
      },
    },
    async (request, reply) => {
      const body = request.body
      if (!Buffer.isBuffer(body) || body.length === 0) {
        throw new WalletStateError(
          'WALLET_STATE_BODY_REQUIRED',
          `Send the ciphertext as ${RAW_TYPES.join(', ')}`,
          {
            status: 400,
          },
        )
      }
      const limit = sessionOf(request).plan.walletStateBytes
      if (body.length > limit) {
        throw new WalletStateError(
          'WALLET_STATE_TOO_LARGE',
          `The wallet state may have at most ${limit} bytes`,
          {
            status: 413,
            details: { limit },
          },
        )
      }
      await chargeBytes(context, request, body.length, context.config.walletStateWriteBytesPerCostUnit)
      const expected = precondition(request)
      if (!expected) {
        throw new WalletStateError(
          'PRECONDITION_REQUIRED',
          'Send If-Match with the current ETag (or If-None-Match: * for the first write)',
          { status: 428 },
        )
      }
      const result = await writeWalletState(
        context.runtime().db,
        sessionOf(request).idBytes,
        body,
        expected,
        context.config.walletStateVersionsKept,
      )
      if (result.outcome === 'conflict') {
        if (result.current) reply.header('etag', quoted(result.current.etag))
        throw new WalletStateError(
          'PRECONDITION_FAILED',
          'The wallet state changed: fetch, merge and retry',
          {
            status: 412,
            details: {
              currentEtag: result.current?.etag ?? null,
              currentVersion: result.current?.version ?? null,
            },
          },
        )
      }
      reply.header('etag', quoted(result.etag))
      return reply
        .status(result.outcome === 'written' && result.created ? 201 : 200)
        .send({ etag: result.etag, version: result.version })
    },
  )

  app.get(
    '/versions',
    {
      schema: {
        tags: ['wallet-state'],
        summary: 'Recent versions of the wallet state, newest first, for recovery',
        security,
        response: {
          200: Type.Object({
            versions: Type.Array(
              Type.Object({
                version: Type.Integer(),
                etag: Type.String(),
                bytes: Type.Integer(),
                createdAt: Type.String(),
              }),
            ),
          }),
          ...errorResponses(401),
        },
      },
    },
    async (request) => ({
      versions: await listWalletStateVersions(context.runtime().db, sessionOf(request).idBytes),
    }),
  )

  app.get(
    '/versions/:version',
    {
      schema: {
        tags: ['wallet-state'],
        summary: 'One earlier version of the wallet state',
        security,
        params: VersionParams,
        response: { 200: { type: 'string' }, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { version } = request.params
      const row = await readWalletStateVersion(context.runtime().db, sessionOf(request).idBytes, version)
      if (!row)
        throw new WalletStateError('WALLET_STATE_VERSION_NOT_FOUND', `No version ${version} kept`, {
          status: 404,
        })
      await chargeBytes(context, request, row.data.length)
      return sendBytes(reply, row.etag, row.data)
    },
  )
}
