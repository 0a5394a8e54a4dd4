import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { getAddress, type Hex, hexToBytes, isAddress, recoverMessageAddress } from 'viem'
import { createSiweMessage, parseSiweMessage } from 'viem/siwe'
import type { DB } from '../../storage/schema.js'
import { askedBits, challengeIsLive, consumeChallenge, issueChallenge } from './challengeStore.js'
import { checkSiweMessage } from './checkSiweMessage.js'
import { findClient, type KnownClient } from './clientRecords.js'
import { AuthError } from './errors.js'
import { judgeRegistrationProof } from './proofOfWork.js'
import type { RegistrationDifficulty } from './RegistrationDifficulty.js'
import { createSession, type SessionPolicy } from './sessionStore.js'

const CHALLENGE_TTL_MS = 5 * 60_000
/** Clock difference tolerated between the instance that issued a challenge and the one redeeming it. */
const MAX_CLOCK_SKEW_MS = 60_000
const STATEMENT = 'Sign in to the wallet backend with this client key.'

const proofOfWorkRefusal = {
  PROOF_OF_WORK_REQUIRED: (bits: number) => `a new client must send a proof of work of ${bits} bits`,
  PROOF_OF_WORK_INVALID: (bits: number) => `proof of work does not meet the difficulty of ${bits} bits`,
  PROOF_OF_WORK_RAISED: (bits: number) =>
    `registrations surged since the challenge: send a proof of work of ${bits} bits for the same message`,
}

/** What sign-in needs: the storage, the chain the messages name, and the price of registering. */
export type SignInDeps = {
  db: Kysely<DB>
  chainId: number
  difficulty: RegistrationDifficulty
}

export type Challenge = {
  nonce: string
  message: string
  expiresAt: string
  registration: { required: boolean; difficulty: number }
}

/**
 * A single-use nonce and the EIP-4361 message for `address` to sign, for the service's public
 * `origin`. A key the backend does not know yet is told the proof of work its registration costs.
 */
export async function issueSignInChallenge(
  { db, chainId, difficulty }: SignInDeps,
  address: Hex,
  origin: URL,
): Promise<Challenge> {
  // The difficulty asked travels inside the (server-issued, stored) nonce; at redemption the
  // higher of it and the difficulty then applies.
  const bits = difficulty.current()
  const nonce = `${bits}x${randomBytes(16).toString('hex')}`
  const issuedAt = new Date()
  const expiresAt = new Date(issuedAt.getTime() + CHALLENGE_TTL_MS)
  const addressBytes = hexToBytes(address)
  await issueChallenge(db, nonce, addressBytes, issuedAt, expiresAt)
  const known = await findClient(db, addressBytes)
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
}

export type SignInRequest = {
  message: string
  signature: Hex
  proofOfWork?: string | undefined
  /** The service's public origin, which the message must name. */
  origin: string
}

export type SignedIn = { token: string; expiresAt: string; clientId: Hex; registered: boolean }

/**
 * Exchanges a signed sign-in message for a session. The nonce is used up by any refusal that the
 * same message cannot fix, and by success; a new key registers, paying its proof of work.
 * `returning` is told of a known client signing in again (to wake it, and to note its contact).
 */
export async function signIn(
  deps: SignInDeps & {
    policy: SessionPolicy
    returning(address: Hex, client: KnownClient): Promise<void>
  },
  request: SignInRequest,
): Promise<SignedIn> {
  const { db, chainId, difficulty } = deps
  let fields: ReturnType<typeof parseSiweMessage>
  try {
    fields = parseSiweMessage(request.message)
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
    new AuthError('CHALLENGE_UNKNOWN', 'Unknown, used or expired nonce for this address; get a new challenge')
  // Looked at, not used up yet: a proof of work priced up meanwhile may be redone on the same nonce.
  if (!(await challengeIsLive(db, nonce, id))) throw unknownChallenge()
  try {
    checkSiweMessage(fields, {
      origin: request.origin,
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
    message: request.message,
    signature: request.signature,
  }).catch(() => undefined)
  if (signer?.toLowerCase() !== address) {
    await consumeChallenge(db, nonce, id)
    throw new AuthError('SIGNATURE_INVALID', 'signature is not by the key of the message address')
  }
  const known = await findClient(db, id)
  if (!known) {
    const verdict = judgeRegistrationProof({
      nonce,
      address,
      solution: request.proofOfWork,
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
    await deps.returning(address, known)
  } else {
    difficulty.record()
  }
  const session = await createSession(db, id, deps.policy, { register: !known })
  return {
    token: session.token,
    expiresAt: session.expiresAt.toISOString(),
    clientId: address,
    registered: !known,
  }
}
