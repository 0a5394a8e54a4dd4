import { randomBytes } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { getAddress, type Hex, hexToBytes, isAddress, recoverMessageAddress } from 'viem'
import { createSiweMessage, parseSiweMessage } from 'viem/siwe'
import { AuthError } from '../../clients/auth/errors.js'
import { verifyProofOfWork } from '../../clients/auth/proofOfWork.js'
import { RegistrationDifficulty } from '../../clients/auth/RegistrationDifficulty.js'
import { createSession, type SessionPolicy } from '../../clients/auth/sessionStore.js'
import { wakeClient } from '../../clients/lifecycle/clientStages.js'
import type { AppContext } from '../AppContext.js'
import { requireSession, sessionOf, touchClient, withinBacklog } from '../plugins/requireSession.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

const Address = Type.String({ pattern: '^0x[0-9a-fA-F]{40}$', description: 'An EVM address (20 bytes, hex)' })

const ChallengeBody = Type.Object({ address: Address }, { additionalProperties: false })
const ChallengeResponse = Type.Object({
  nonce: Type.String(),
  message: Type.String({ description: 'The EIP-4361 message to sign with the client key (personal_sign)' }),
  expiresAt: Type.String({ format: 'date-time' }),
  registration: Type.Object({
    required: Type.Boolean({
      description: 'The backend does not know this client yet: a proof of work is due',
    }),
    difficulty: Type.Integer({
      description: 'Leading zero bits wanted of SHA-256("<nonce>:<lower-case address>:<decimal solution>")',
    }),
  }),
})
const SessionBody = Type.Object(
  {
    message: Type.String({ maxLength: 4096 }),
    signature: Type.String({ pattern: '^0x[0-9a-fA-F]{130}$' }),
    proofOfWork: Type.Optional(Type.String({ maxLength: 20, description: 'Solution for a new client' })),
  },
  { additionalProperties: false },
)
const SessionResponse = Type.Object({
  token: Type.String(),
  expiresAt: Type.String({ format: 'date-time' }),
  clientId: Type.String({ description: 'The client id: the address of the client key' }),
  registered: Type.Boolean({ description: 'True when this sign-in created the client' }),
})

const CHALLENGE_TTL_MS = 5 * 60_000

const sessionPolicy = (context: AppContext): SessionPolicy => ({
  ttlSeconds: context.config.sessionTtlSeconds,
  maxLifetimeSeconds: context.config.sessionMaxLifetimeSeconds,
  maxPerClient: context.config.maxSessionsPerClient,
})

function origin(request: FastifyRequest): { domain: string; uri: string } {
  const domain = request.headers.host ?? 'localhost'
  return { domain, uri: `${request.protocol}://${domain}` }
}

/**
 * Sign-in with Ethereum (EIP-4361) for client keys that are not on-chain accounts: a single-use
 * nonce, a signed message, a short-lived session token. A key the backend has not seen must also
 * bring a proof of work: registering identities in bulk costs the attacker, not the server.
 */
export async function authRoutes(app: FastifyInstance, context: AppContext): Promise<void> {
  const difficulty = new RegistrationDifficulty({
    baseBits: context.config.registrationPowBits,
    calmPerWindow: context.config.registrationCalmPerMinute,
    windowMs: 60_000,
    maxExtraBits: 8,
  })
  app.post(
    '/challenge',
    {
      schema: {
        tags: ['auth'],
        summary: 'Get a sign-in nonce and the message to sign',
        body: ChallengeBody,
        response: { 200: ChallengeResponse, ...errorResponses(400, 503) },
      },
    },
    async (request) => {
      const { address } = request.body as Static<typeof ChallengeBody>
      const { db, chainId } = context.runtime()
      // The difficulty asked travels inside the (server-issued, stored) nonce, so the answer is
      // judged by what was asked even if the rate changes meanwhile.
      const bits = difficulty.current()
      const nonce = `${bits}x${randomBytes(16).toString('hex')}`
      const issuedAt = new Date()
      const expiresAt = new Date(issuedAt.getTime() + CHALLENGE_TTL_MS)
      const addressBytes = hexToBytes(address as Hex)
      await db.deleteFrom('auth_challenges').where('expires_at', '<', issuedAt).execute()
      await db
        .insertInto('auth_challenges')
        .values({ nonce, address: addressBytes, expires_at: expiresAt })
        .execute()
      const known = await db
        .selectFrom('clients')
        .select('id')
        .where('id', '=', addressBytes)
        .executeTakeFirst()
      const message = createSiweMessage({
        ...origin(request),
        address: getAddress(address),
        chainId,
        nonce,
        version: '1',
        issuedAt,
        expirationTime: expiresAt,
        statement: 'Sign in to the wallet backend with this client key.',
      })
      return {
        nonce,
        message,
        expiresAt: expiresAt.toISOString(),
        registration: { required: !known, difficulty: known ? 0 : bits },
      }
    },
  )

  app.post(
    '/session',
    {
      config: { leaderOnly: true },
      schema: {
        tags: ['auth'],
        summary: 'Exchange a signed sign-in message for a session token',
        body: SessionBody,
        response: { 200: SessionResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const body = request.body as Static<typeof SessionBody>
      const { db, chainId } = context.runtime()
      let fields: ReturnType<typeof parseSiweMessage>
      try {
        fields = parseSiweMessage(body.message)
      } catch {
        throw new AuthError('INVALID_SIWE_MESSAGE', 'message is not an EIP-4361 message')
      }
      if (!fields.nonce || !fields.address || !isAddress(fields.address)) {
        throw new AuthError('INVALID_SIWE_MESSAGE', 'message lacks a nonce or an address')
      }
      const address = fields.address.toLowerCase() as Hex
      const challenge = await db
        .deleteFrom('auth_challenges')
        .where('nonce', '=', fields.nonce)
        .where('expires_at', '>', new Date())
        .returning(['address'])
        .executeTakeFirst()
      if (
        !challenge ||
        Buffer.compare(Buffer.from(challenge.address), Buffer.from(hexToBytes(address))) !== 0
      ) {
        throw new AuthError(
          'CHALLENGE_UNKNOWN',
          'Unknown, used or expired nonce for this address; get a new challenge',
        )
      }
      const { domain } = origin(request)
      if (fields.domain !== domain || fields.chainId !== chainId) {
        throw new AuthError(
          'SIWE_FIELD_MISMATCH',
          `message must be for domain ${domain} and chain ${chainId}`,
        )
      }
      if (fields.expirationTime && fields.expirationTime.getTime() < Date.now()) {
        throw new AuthError('SIWE_FIELD_MISMATCH', 'message has expired')
      }
      const signer = await recoverMessageAddress({
        message: body.message,
        signature: body.signature as Hex,
      }).catch(() => undefined)
      if (signer?.toLowerCase() !== address) {
        throw new AuthError('SIGNATURE_INVALID', 'signature is not by the key of the message address')
      }
      const id = hexToBytes(address)
      const known = await db
        .selectFrom('clients')
        .select(['id', 'stage', 'plan', 'backlog_items', 'backlog_bytes'])
        .where('id', '=', id)
        .executeTakeFirst()
      if (known) {
        const backlog = { backlogItems: known.backlog_items, backlogBytes: known.backlog_bytes }
        if (known.stage !== 'active' && withinBacklog(backlog, context.plans.get(known.plan))) {
          const runtime = context.runtime()
          await wakeClient(runtime, address, runtime.follower.snapshot().head)
        }
        await touchClient(db, id)
      }
      if (!known) {
        const asked = Number(fields.nonce.split('x')[0])
        if (asked > 0 && body.proofOfWork === undefined) {
          throw new AuthError(
            'PROOF_OF_WORK_REQUIRED',
            `a new client must send a proof of work of ${asked} bits`,
            {
              difficulty: asked,
            },
          )
        }
        if (!verifyProofOfWork(fields.nonce, address, body.proofOfWork ?? '', asked)) {
          throw new AuthError('PROOF_OF_WORK_INVALID', 'proof of work does not meet the difficulty', {
            difficulty: asked,
          })
        }
        difficulty.record()
        await db.transaction().execute(async (trx) => {
          await trx
            .insertInto('clients')
            .values({ id })
            .onConflict((oc) => oc.doNothing())
            .execute()
          await trx
            .insertInto('client_usage')
            .values({ client_id: id })
            .onConflict((oc) => oc.doNothing())
            .execute()
        })
      }
      const session = await createSession(db, id, sessionPolicy(context))
      return {
        token: session.token,
        expiresAt: session.expiresAt.toISOString(),
        clientId: address,
        registered: !known,
      }
    },
  )

  await app.register(async (scope) => {
    requireSession(scope, context)
    scope.post(
      '/refresh',
      {
        schema: {
          tags: ['auth'],
          summary: 'Replace the session token with a new one',
          security: [{ session: [] }],
          response: { 200: SessionResponse, ...errorResponses(401, 503) },
        },
      },
      async (request) => {
        const client = sessionOf(request)
        const { db } = context.runtime()
        // The new token lives no longer than the sign-in it continues.
        const session = await createSession(db, client.idBytes, sessionPolicy(context), {
          signedInAt: client.signedInAt,
          replaces: client.token,
        })
        return {
          token: session.token,
          expiresAt: session.expiresAt.toISOString(),
          clientId: client.id,
          registered: false,
        }
      },
    )
  })
}
