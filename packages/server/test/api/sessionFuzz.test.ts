import fc from 'fast-check'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployLogger } from '../support/chainActivity.js'

let anvil: TestAnvil
let backend: TestBackend
let token: string
let contract: string
let blockHash: string

beforeAll(async () => {
  anvil = await startAnvil()
  contract = await deployLogger(anvil)
  // The client's limits stay out of the way: the fuzz is about what each request holds, not how many.
  backend = await startBackend(anvil, {
    'client-cost-burst': '100000000',
    'client-cost-per-second': '1000000',
  })
  await backend.synced()
  blockHash = (await anvil.block('latest')).hash
  // The SDK registers the client (with its proof of work); a second sign-in by hand holds its token.
  const account = privateKeyToAccount(generatePrivateKey())
  const client = backend.client(account)
  await client.signIn()
  await client.putInterest(contract as Hex, { filters: [{ code: 'all', args: [] }] })
  const post = async (path: string, body: unknown) =>
    (
      await fetch(`${backend.service.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json()
  const challenge = await post('/v1/auth/challenge', { address: account.address })
  const signature = await account.signMessage({ message: challenge.message })
  token = (await post('/v1/auth/session', { message: challenge.message, signature })).token
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

/** Values a wallet, a bug or an attacker might put anywhere. */
const hostile = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    '1e400',
    'Infinity',
    '-1',
    '0x',
    `0x${'f'.repeat(64)}`,
    `0x${'0'.repeat(40)}`,
    '',
    ' ',
    '%00',
  ),
  fc.constant(null),
  fc.boolean(),
  fc.json({ maxDepth: 3 }).map((text) => JSON.parse(text) as unknown),
)
/**
 * A hostile value as it would appear in a path or query. Not String(): fast-check's JSON holds
 * keys such as "toString" and "valueOf", and an object with a toString that is not a function has
 * no string form.
 */
const asText = (value: unknown): string =>
  typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)
const hexOf = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => `0x${Buffer.from(b).toString('hex')}`)
const address = fc.oneof(
  hexOf(20),
  fc.constant(''),
  fc.string({ maxLength: 50 }),
  fc.constantFrom('0xZZ', '0x' + '1'.repeat(41)),
)
const filter = fc.record(
  {
    code: fc.oneof(fc.constantFrom('all', 'logs', 'calls', 'transfers', 'value', 'nope'), hostile),
    args: fc.oneof(fc.array(fc.oneof(hexOf(32), hexOf(20), hexOf(4), hostile), { maxLength: 5 }), hostile),
  },
  { requiredKeys: [] },
)
const watch = fc.record(
  {
    kind: fc.oneof(fc.constantFrom('balance', 'nonce', 'codeHash', 'storageRoot', 'slot', 'call'), hostile),
    args: fc.oneof(fc.array(fc.oneof(hexOf(32), hexOf(4), hostile), { maxLength: 3 }), hostile),
  },
  { requiredKeys: [] },
)
const interestBody = fc.oneof(
  fc.record(
    {
      filters: fc.oneof(fc.array(filter, { maxLength: 4 }), hostile),
      watches: fc.oneof(fc.array(watch, { maxLength: 3 }), hostile),
      abi: fc.oneof(
        fc.array(
          fc.json({ maxDepth: 2 }).map((t) => JSON.parse(t) as unknown),
          { maxLength: 3 },
        ),
        hostile,
      ),
      startBlock: fc.oneof(fc.integer({ min: -5, max: 1_000_000 }), hostile),
    },
    { requiredKeys: [] },
  ),
  hostile,
)

/** A request of a signed-in client, to one of its routes, with hostile parts. */
const request = fc.oneof(
  fc.tuple(address, interestBody).map(([a, body]) => ({ method: 'PUT', path: `/v1/interests/${a}`, body })),
  address.map((a) => ({ method: 'DELETE', path: `/v1/interests/${a}` })),
  fc.constant({ method: 'PUT', path: `/v1/interests/{contract}`, body: undefined }),
  fc.tuple(interestBody).map(([body]) => ({ method: 'PUT', path: '/v1/interests/{contract}', body })),
  fc
    .tuple(
      address,
      fc.oneof(
        fc.record(
          {
            activity: fc.oneof(
              fc.subarray(['native', 'tokens', 'approvals', 'userOps', 'internal']),
              fc.array(hostile, { maxLength: 3 }),
              hostile,
            ),
            startBlock: fc.oneof(fc.integer({ min: -5, max: 1_000_000 }), hostile),
          },
          { requiredKeys: [] },
        ),
        hostile,
      ),
    )
    .map(([a, body]) => ({ method: 'PUT', path: `/v1/accounts/${a}`, body })),
  address.map((a) => ({ method: 'DELETE', path: `/v1/accounts/${a}` })),
  fc.tuple(hostile, hostile).map(([after, limit]) => ({
    method: 'GET',
    path: `/v1/deliveries?after=${asText(after)}&limit=${asText(limit)}`,
  })),
  fc.oneof(fc.record({ cursor: hostile }, { requiredKeys: [] }), hostile).map((body) => ({
    method: 'POST',
    path: '/v1/deliveries/ack',
    body,
  })),
  fc
    .oneof(hostile, hexOf(32))
    .map((block) => ({ method: 'GET', path: `/v1/blocks/${encodeURIComponent(asText(block))}` })),
  fc.tuple(fc.oneof(hostile, fc.constant('{block}')), hostile).map(([block, index]) => ({
    method: 'GET',
    path: `/v1/proofs/receipt?block=${asText(block)}&index=${asText(index)}`,
  })),
  fc.tuple(fc.oneof(hostile, fc.constant('{block}')), hostile).map(([block, index]) => ({
    method: 'GET',
    path: `/v1/proofs/transaction?block=${asText(block)}&index=${asText(index)}`,
  })),
  fc.tuple(fc.oneof(address, fc.constant('{contract}')), hostile, hostile).map(([a, block, slots]) => ({
    method: 'GET',
    path: `/v1/proofs/state?address=${a}&block=${asText(block)}&slots=${asText(slots)}`,
  })),
  fc.oneof(fc.record({ raw: fc.oneof(hexOf(120), hostile) }, { requiredKeys: [] }), hostile).map((body) => ({
    method: 'POST',
    path: '/v1/transactions',
    body,
  })),
  fc
    .oneof(hexOf(32), hostile)
    .map((hash) => ({ method: 'GET', path: `/v1/transactions/${encodeURIComponent(asText(hash))}` })),
  fc
    .oneof(hostile, fc.string({ maxLength: 300 }))
    .map((body) => ({ method: 'PUT', path: '/v1/wallet-state', body, ifMatch: '*' })),
  fc
    .oneof(hostile)
    .map((v) => ({ method: 'GET', path: `/v1/wallet-state/versions/${encodeURIComponent(asText(v))}` })),
  fc.constantFrom(
    { method: 'GET', path: '/v1/usage' },
    { method: 'GET', path: '/v1/interests' },
    { method: 'GET', path: '/v1/accounts' },
    { method: 'GET', path: '/v1/wallet-state/versions' },
  ),
)

describe('the client API under hostile input, signed in (fuzz, on a live backend)', () => {
  it('answers every request of a signed-in client with a success or a 4xx with a code, never a 5xx', async () => {
    const seen = new Map<number, number>()
    await fc.assert(
      fc.asyncProperty(
        request,
        async (r: { method: string; path: string; body?: unknown; ifMatch?: string }) => {
          const path = r.path.replaceAll('{contract}', contract).replaceAll('{block}', blockHash)
          const response = await fetch(`${backend.service.url}${path}`, {
            method: r.method,
            headers: {
              authorization: `Bearer ${token}`,
              ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}),
              ...(r.ifMatch ? { 'if-match': r.ifMatch } : {}),
            },
            ...(r.body !== undefined ? { body: JSON.stringify(r.body) } : {}),
          })
          const text = await response.text()
          seen.set(response.status, (seen.get(response.status) ?? 0) + 1)
          expect(response.status, `${r.method} ${path} → ${text.slice(0, 300)}`).toBeLessThan(500)
          if (response.status >= 400) expect(typeof JSON.parse(text).code).toBe('string')
        },
      ),
      { numRuns: 400 },
    )
    // The fuzz reached the handlers, not only the session check: some requests passed, many were refused.
    expect([...seen.keys()].some((status) => status < 300)).toBe(true)
    expect([...seen.keys()].some((status) => status === 400)).toBe(true)
    expect(seen.get(401) ?? 0).toBe(0)
    // And the backend still serves the client as before.
    expect(backend.service.lifecycle.state).toBe('live')
    const interests = await fetch(`${backend.service.url}/v1/interests`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(interests.status).toBe(200)
  }, 120_000)

  it('answers the admin API with hostile queries and bodies with a success or a 4xx with a code, never a 5xx', async () => {
    const adminRequest = fc.oneof(
      fc.tuple(hostile, hostile, hostile, hostile).map(([limit, stage, prefix, seen]) => ({
        method: 'GET',
        path: `/clients?limit=${asText(limit)}&stage=${asText(stage)}&idPrefix=${encodeURIComponent(asText(prefix))}&seenBefore=${encodeURIComponent(asText(seen))}`,
      })),
      address.map((id) => ({ method: 'GET', path: `/clients/${encodeURIComponent(id)}` })),
      fc
        .tuple(address, fc.oneof(fc.record({ plan: hostile }, { requiredKeys: [] }), hostile))
        .map(([id, body]) => ({ method: 'PUT', path: `/clients/${encodeURIComponent(id)}/plan`, body })),
      fc
        .tuple(fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('default', 'x'.repeat(300))), hostile)
        .map(([name, body]) => ({ method: 'PUT', path: `/plans/${encodeURIComponent(name)}`, body })),
      fc
        .tuple(
          fc.constantFrom('default', 'other'),
          fc.dictionary(
            fc.constantFrom(
              'interests',
              'filtersPerInterest',
              'backlogItems',
              'costPerSecond',
              'costBurst',
              'streams',
            ),
            hostile,
          ),
        )
        .map(([name, body]) => ({ method: 'PUT', path: `/plans/${name}`, body })),
      fc.oneof(fc.record({ level: hostile }, { requiredKeys: [] }), hostile).map((body) => ({
        method: 'PUT',
        path: '/log-level',
        body,
      })),
    )
    await fc.assert(
      fc.asyncProperty(adminRequest, async (r: { method: string; path: string; body?: unknown }) => {
        const response = await backend.admin(r.method, r.path, r.body)
        const text = await response.text()
        expect(response.status, `${r.method} ${r.path} → ${text.slice(0, 300)}`).toBeLessThan(500)
        if (response.status >= 400) expect(typeof JSON.parse(text).code).toBe('string')
      }),
      { numRuns: 300 },
    )
    expect(backend.service.lifecycle.state).toBe('live')
  }, 120_000)
})
