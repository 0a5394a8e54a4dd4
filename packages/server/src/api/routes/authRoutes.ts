import { Type } from '@sinclair/typebox'
import { type Hex, hexToBytes } from 'viem'
import { RegistrationDifficulty } from '../../clients/auth/RegistrationDifficulty.js'
import { createSession, type SessionPolicy } from '../../clients/auth/sessionStore.js'
import { issueSignInChallenge, signIn } from '../../clients/auth/signIn.js'
import { touchClient } from '../../clients/clientDirectory.js'
import { wakeClient } from '../../clients/lifecycle/clientStages.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { publicOriginOf } from '../plugins/forwardToLeader.js'
import { requireSession, sessionOf, withinBacklog } from '../plugins/requireSession.js'
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

const sessionPolicy = (context: AppContext): SessionPolicy => ({
  ttlSeconds: context.config.sessionTtlSeconds,
  maxLifetimeSeconds: context.config.sessionMaxLifetimeSeconds,
  maxPerClient: context.config.maxSessionsPerClient,
})

/**
 * Sign-in with Ethereum (EIP-4361) for client keys that are not on-chain accounts: a single-use
 * nonce, a signed message, a short-lived session token. A key the backend has not seen must also
 * bring a proof of work: registering identities in bulk costs the attacker, not the server.
 */
export async function authRoutes(app: ApiInstance, context: AppContext): Promise<void> {
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
    async (request) =>
      issueSignInChallenge(
        { ...context.runtime(), difficulty },
        request.body.address.toLowerCase() as Hex,
        new URL(publicOriginOf(request, context)),
      ),
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
      const runtime = context.leader()
      return signIn(
        {
          db: runtime.db,
          chainId: runtime.chainId,
          difficulty,
          policy: sessionPolicy(context),
          returning: async (address, client) => {
            if (client.stage !== 'active' && withinBacklog(client, context.plans.get(client.plan))) {
              await wakeClient(runtime, address)
            }
            await touchClient(runtime.db, hexToBytes(address))
          },
        },
        {
          ...request.body,
          signature: request.body.signature as Hex,
          origin: publicOriginOf(request, context),
        },
      )
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
