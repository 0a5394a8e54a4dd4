import { randomBytes } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { getAddress, type Hex, hexToBytes, isAddress, recoverMessageAddress } from 'viem'
import { createSiweMessage, parseSiweMessage } from 'viem/siwe'
import {
  askedBits,
  challengeIsLive,
  consumeChallenge,
  issueChallenge,
} from '../../clients/auth/challengeStore.js'
import { checkSiweMessage } from '../../clients/auth/checkSiweMessage.js'
import { AuthError } from '../../clients/auth/errors.js'
import { judgeRegistrationProof } from '../../clients/auth/proofOfWork.js'
import { RegistrationDifficulty } from '../../clients/auth/RegistrationDifficulty.js'
import { createSession, type SessionPolicy } from '../../clients/auth/sessionStore.js'
import { wakeClient } from '../../clients/lifecycle/clientStages.js'
import type { AppContext } from '../AppContext.js'
import { publicOriginOf } from '../plugins/forwardToLeader.js'
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
/** Clock difference tolerated between the instance that issued a challenge and the one redeeming it. */
const MAX_CLOCK_SKEW_MS = 60_000
const STATEMENT = 'Sign in to the wallet backend with this client key.'

const sessionPolicy = (context: AppContext): SessionPolicy => ({
  ttlSeconds: context.config.sessionTtlSeconds,
  maxLifetimeSeconds: context.config.sessionMaxLifetimeSeconds,
  maxPerClient: context.config.maxSessionsPerClient,
})

const proofOfWorkRefusal = {
  PROOF_OF_WORK_REQUIRED: (bits: number) => `a new client must send a proof of work of ${bits} bits`,
  PROOF_OF_WORK_INVALID: (bits: number) => `proof of work does not meet the difficulty of ${bits} bits`,
  PROOF_OF_WORK_RAISED: (bits: number) =>
    `registrations surged since the challenge: send a proof of work of ${bits} bits for the same message`,
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
      // The difficulty asked travels inside the (server-issued, stored) nonce; at redemption the
      // higher of it and the difficulty then applies.
      const bits = difficulty.current()
      const nonce = `${bits}x${randomBytes(16).toString('hex')}`
      const issuedAt = new Date()
      const expiresAt = new Date(issuedAt.getTime() + CHALLENGE_TTL_MS)
      const addressBytes = hexToBytes(address as Hex)
      await issueChallenge(db, nonce, addressBytes, issuedAt, expiresAt)
      const known = await db
        .selectFrom('clients')
        .select('id')
        .where('id', '=', addressBytes)
        .executeTakeFirst()
      const origin = new URL(publicOriginOf(request, context))
      const message = createSiweMessage({
        domain: origin.host,
        uri: origin.origin,
        address: getAddress(address),
        chainId,
        nonce,
        version: '1',
        issuedAt,
        expirationTime: expiresAt,
        statement: STATEMENT,
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
      const id = hexToBytes(address)
      const nonce = fields.nonce
      const unknownChallenge = () =>
        new AuthError(
          'CHALLENGE_UNKNOWN',
          'Unknown, used or expired nonce for this address; get a new challenge',
        )
      // Looked at, not used up yet: a proof of work priced up meanwhile may be redone on the same nonce.
      if (!(await challengeIsLive(db, nonce, id))) throw unknownChallenge()
      try {
        checkSiweMessage(fields, {
          origin: publicOriginOf(request, context),
          chainId,
          statement: STATEMENT,
          now: new Date(),
          challengeTtlMs: CHALLENGE_TTL_MS,
          maxSkewMs: MAX_CLOCK_SKEW_MS,
        })
      } catch (error) {
        await consumeChallenge(db, nonce, id)
        throw error
      }
      const signer = await recoverMessageAddress({
        message: body.message,
        signature: body.signature as Hex,
      }).catch(() => undefined)
      if (signer?.toLowerCase() !== address) {
        await consumeChallenge(db, nonce, id)
        throw new AuthError('SIGNATURE_INVALID', 'signature is not by the key of the message address')
      }
      const known = await db
        .selectFrom('clients')
        .select(['id', 'stage', 'plan', 'backlog_items', 'backlog_bytes'])
        .where('id', '=', id)
        .executeTakeFirst()
      if (!known) {
        const verdict = judgeRegistrationProof({
          nonce,
          address,
          solution: body.proofOfWork,
          asked: askedBits(nonce),
          current: difficulty.current(),
        })
        if (!verdict.ok) {
          if (verdict.code !== 'PROOF_OF_WORK_RAISED') await consumeChallenge(db, nonce, id)
          throw new AuthError(verdict.code, proofOfWorkRefusal[verdict.code](verdict.difficulty), {
            difficulty: verdict.difficulty,
          })
        }
      }
      if (!(await consumeChallenge(db, nonce, id))) throw unknownChallenge()
      if (known) {
        const backlog = { backlogItems: known.backlog_items, backlogBytes: known.backlog_bytes }
        if (known.stage !== 'active' && withinBacklog(backlog, context.plans.get(known.plan))) {
          const runtime = context.runtime()
          await wakeClient(runtime, address)
        }
        await touchClient(db, id)
      } else {
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
