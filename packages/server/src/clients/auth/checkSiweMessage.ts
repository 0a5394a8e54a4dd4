import type { SiweMessage } from 'viem/siwe'
import { AuthError } from './errors.js'

/** What the sign-in message must say: the server wrote it, and the client signs it unchanged. */
export type SiweExpectations = {
  /** The public origin (`--public-url`): the message's URI, and its host the domain. */
  origin: string
  chainId: number
  statement: string
  now: Date
  /** How long a challenge lives: an `issuedAt` older than this (plus the skew) is stale. */
  challengeTtlMs: number
  /** Clock difference tolerated between the issuing instance and this one. */
  maxSkewMs: number
}

const mismatch = (field: string, expected: unknown) =>
  new AuthError('SIWE_FIELD_MISMATCH', `message field ${field} must be ${String(expected)}`, {
    field,
    expected,
  })

/**
 * Checks every EIP-4361 field of a parsed sign-in message against what this server issues. The
 * nonce (single use, bound to the address) and the signature are checked by the caller.
 * - domain and uri: a signature a wallet gave to another site (phishing) is not a session here;
 * - version, chainId, statement, no resources or request id: the message is ours, unaltered;
 * - issuedAt, notBefore, expirationTime: a message is only good in the window the challenge was.
 */
export function checkSiweMessage(fields: Partial<SiweMessage>, expected: SiweExpectations): void {
  const origin = new URL(expected.origin)
  if (fields.domain !== origin.host) {
    throw new AuthError('SIWE_DOMAIN_MISMATCH', `message must be for domain ${origin.host}`, {
      field: 'domain',
      expected: origin.host,
    })
  }
  if (fields.uri !== origin.origin) {
    throw new AuthError('SIWE_URI_MISMATCH', `message URI must be ${origin.origin}`, {
      field: 'uri',
      expected: origin.origin,
    })
  }
  if (fields.scheme !== undefined && `${fields.scheme}:` !== origin.protocol) {
    throw mismatch('scheme', origin.protocol.slice(0, -1))
  }
  if (fields.version !== '1') throw mismatch('version', '1')
  if (fields.chainId !== expected.chainId) throw mismatch('chainId', expected.chainId)
  if (fields.statement !== expected.statement) throw mismatch('statement', expected.statement)
  if (fields.resources !== undefined && fields.resources.length > 0) throw mismatch('resources', 'absent')
  if (fields.requestId !== undefined) throw mismatch('requestId', 'absent')

  const now = expected.now.getTime()
  const issuedAt = fields.issuedAt?.getTime()
  if (
    issuedAt === undefined ||
    Number.isNaN(issuedAt) ||
    issuedAt > now + expected.maxSkewMs ||
    issuedAt < now - expected.challengeTtlMs - expected.maxSkewMs
  ) {
    throw new AuthError(
      'SIWE_ISSUED_AT_INVALID',
      `message issuedAt must be within the last ${expected.challengeTtlMs / 1000} s`,
      { field: 'issuedAt' },
    )
  }
  const notBefore = fields.notBefore?.getTime()
  if (notBefore !== undefined && !(notBefore <= now + expected.maxSkewMs)) {
    throw new AuthError('SIWE_NOT_YET_VALID', 'message notBefore is in the future', { field: 'notBefore' })
  }
  const expiration = fields.expirationTime?.getTime()
  if (expiration === undefined || !(expiration > now)) {
    throw new AuthError('SIWE_EXPIRED', 'message has expired or has no expirationTime; get a new challenge', {
      field: 'expirationTime',
    })
  }
}
