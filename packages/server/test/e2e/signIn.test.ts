import { request as httpRequest } from 'node:http'
import { generatePrivateKey, type LocalAccount, privateKeyToAccount } from 'viem/accounts'
import { createSiweMessage, parseSiweMessage, type SiweMessage } from 'viem/siwe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { proofOfWorkBits } from '../../src/clients/auth/proofOfWork.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'

const PUBLIC_URL = 'https://wallet.example:8443'

let anvil: TestAnvil
let backend: TestBackend

beforeAll(async () => {
  anvil = await startAnvil()
  backend = await startBackend(anvil, {
    'public-url': PUBLIC_URL,
    'registration-pow-bits': '4',
    'registration-calm-per-minute': '2',
  })
})
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

type Answer = {
  status: number
  json: { code?: string; details?: { difficulty?: number }; registered?: boolean } & Record<string, unknown>
}

/** A POST with any `Host` header (fetch does not let a caller choose it). */
function post(path: string, body: unknown, host?: string): Promise<Answer> {
  const url = new URL(path, backend.service.url)
  const payload = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...(host ? { host } : {}),
        },
      },
      (res) => {
        let text = ''
        res.on('data', (chunk) => {
          text += String(chunk)
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

type Challenge = { nonce: string; message: string; registration: { required: boolean; difficulty: number } }
const challengeFor = async (account: LocalAccount, host?: string): Promise<Challenge> => {
  const answer = await post('/v1/auth/challenge', { address: account.address }, host)
  expect(answer.status).toBe(200)
  return answer.json as unknown as Challenge
}

/** The server's message for `account` with `change` applied, signed by the account, sent with `host`. */
async function signInWith(change: (fields: SiweMessage) => SiweMessage, host?: string) {
  const account = privateKeyToAccount(generatePrivateKey())
  const challenge = await challengeFor(account, host)
  const fields = parseSiweMessage(challenge.message) as SiweMessage
  const message = createSiweMessage(change(fields))
  const signature = await account.signMessage({ message })
  return post('/v1/auth/session', { message, signature, proofOfWork: '0' }, host)
}

const HOUR = 3_600_000

describe('sign-in message checks', () => {
  it('names the public origin whatever Host the request carries', async () => {
    const challenge = await challengeFor(privateKeyToAccount(generatePrivateKey()), 'evil.example')
    const fields = parseSiweMessage(challenge.message)
    expect(fields.domain).toBe('wallet.example:8443')
    expect(fields.uri).toBe(PUBLIC_URL)
  })

  it('the SDK signs in through the listening URL with the message the server issues', async () => {
    const client = backend.client()
    expect(await client.signIn()).toMatchObject({ registered: true })
    expect(await client.listInterests()).toEqual([])
  })

  it.each([
    [
      'a domain from the Host header',
      (f: SiweMessage) => ({ ...f, domain: 'evil.example' }),
      'SIWE_DOMAIN_MISMATCH',
    ],
    ['a wrong uri', (f: SiweMessage) => ({ ...f, uri: 'https://evil.example/' }), 'SIWE_URI_MISMATCH'],
    [
      'notBefore a day ahead',
      (f: SiweMessage) => ({ ...f, notBefore: new Date(Date.now() + 24 * HOUR) }),
      'SIWE_NOT_YET_VALID',
    ],
    [
      'issuedAt a year ahead',
      (f: SiweMessage) => ({
        ...f,
        issuedAt: new Date(Date.now() + 365 * 24 * HOUR),
        expirationTime: new Date(Date.now() + 366 * 24 * HOUR),
      }),
      'SIWE_ISSUED_AT_INVALID',
    ],
    [
      'an expirationTime past',
      (f: SiweMessage) => ({ ...f, expirationTime: new Date(Date.now() - 1000) }),
      'SIWE_EXPIRED',
    ],
    ['no expirationTime', (f: SiweMessage) => ({ ...f, expirationTime: undefined }), 'SIWE_EXPIRED'],
    ['another chain', (f: SiweMessage) => ({ ...f, chainId: f.chainId + 1 }), 'SIWE_FIELD_MISMATCH'],
    ['another statement', (f: SiweMessage) => ({ ...f, statement: 'Grant all' }), 'SIWE_FIELD_MISMATCH'],
    [
      'resources',
      (f: SiweMessage) => ({ ...f, resources: ['https://evil.example/grant'] }),
      'SIWE_FIELD_MISMATCH',
    ],
  ])('refuses %s', async (_what, change, code) => {
    const answer = await signInWith(change, 'evil.example')
    expect(answer.status).toBe(401)
    expect(answer.json.code).toBe(code)
  })

  it('a refused message uses its nonce up', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const challenge = await challengeFor(account)
    const wrong = createSiweMessage({
      ...(parseSiweMessage(challenge.message) as SiweMessage),
      uri: 'https://x.example',
    })
    const refused = await post('/v1/auth/session', {
      message: wrong,
      signature: await account.signMessage({ message: wrong }),
    })
    expect(refused.json.code).toBe('SIWE_URI_MISMATCH')
    const replay = await post('/v1/auth/session', {
      message: challenge.message,
      signature: await account.signMessage({ message: challenge.message }),
      proofOfWork: solve(challenge, account, 4),
    })
    expect(replay.json.code).toBe('CHALLENGE_UNKNOWN')
  })
})

/** A solution of exactly `bits` leading zero bits: enough for `bits`, not for one more. */
function solve(challenge: Challenge, account: LocalAccount, bits: number): string {
  const address = account.address.toLowerCase()
  for (let solution = 0; ; solution++) {
    if (proofOfWorkBits(challenge.nonce, address, String(solution)) === bits) return String(solution)
  }
}

describe('registration proof of work is priced when redeemed', () => {
  it('challenges fetched while calm cannot all be redeemed at the calm price in a burst', async () => {
    const accounts = Array.from({ length: 10 }, () => privateKeyToAccount(generatePrivateKey()))
    const stocked: Challenge[] = []
    for (const account of accounts) stocked.push(await challengeFor(account))
    const asked = stocked[0]!.registration.difficulty
    expect(asked).toBeGreaterThanOrEqual(4)
    const outcomes: { code: string | undefined; difficulty: number | undefined }[] = []
    for (const [i, account] of accounts.entries()) {
      const challenge = stocked[i]!
      const signature = await account.signMessage({ message: challenge.message })
      const answer = await post('/v1/auth/session', {
        message: challenge.message,
        signature,
        proofOfWork: solve(challenge, account, challenge.registration.difficulty),
      })
      outcomes.push({ code: answer.json.code, difficulty: answer.json.details?.difficulty })
      if (answer.json.code === 'PROOF_OF_WORK_RAISED') {
        // The same signed message with a proof of the new difficulty goes through: the nonce was kept.
        const bits = answer.json.details?.difficulty ?? 0
        expect(bits).toBeGreaterThan(challenge.registration.difficulty)
        const redone = await post('/v1/auth/session', {
          message: challenge.message,
          signature,
          proofOfWork: solve(challenge, account, bits),
        })
        expect(redone.status).toBe(200)
        expect(redone.json.registered).toBe(true)
      }
    }
    const raised = outcomes.filter((o) => o.code === 'PROOF_OF_WORK_RAISED')
    // Ten registrations against a calm two a minute: most of the stocked challenges were re-priced.
    expect(raised.length).toBeGreaterThanOrEqual(5)
  })
})
