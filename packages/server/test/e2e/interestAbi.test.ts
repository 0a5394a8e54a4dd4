import { type Abi, encodeFunctionData, getAddress, type Hex, hexToBytes } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ABI_LIMITS } from '../../src/clients/interests/validateAbi.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { waitForReceipt } from '../support/chainActivity.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let backend: TestBackend

beforeAll(async () => {
  anvil = await startAnvil()
  backend = await startBackend(anvil, {
    'registration-pow-bits': '0',
    plans: JSON.stringify({
      bulk: { costPerSecond: 100_000, costBurst: 1_000_000, backlogItems: 100_000 },
      lister: { costPerSecond: 1, costBurst: 100 },
    }),
  })
})
afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

const admin = (method: string, path: string, body?: unknown) => backend.admin(method, path, body)

async function signIn(plan?: string): Promise<{ token: string; clientId: Hex }> {
  const account = privateKeyToAccount(generatePrivateKey())
  const post = (path: string, body: unknown) =>
    fetch(`${backend.service.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const challenge = await (await post('/v1/auth/challenge', { address: account.address })).json()
  const signature = await account.signMessage({ message: challenge.message })
  const session = await (await post('/v1/auth/session', { message: challenge.message, signature })).json()
  if (plan) expect((await admin('PUT', `/clients/${session.clientId}/plan`, { plan })).status).toBe(200)
  return session
}

/** A request of the client with `token`; a string body is sent as it is. */
function call(token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${backend.service.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
}

const contract = (n: number) => `0x${n.toString(16).padStart(40, 'c')}` as Hex

/** A big ABI within the bounds: many functions of several inputs each, one of them `pay`. */
function bigAbi(functions: number, inputs: number): Abi {
  const entry = (name: string) => ({
    type: 'function',
    name,
    inputs: Array.from({ length: inputs }, (_, i) => ({
      name: `a${i}`,
      type: i % 2 ? 'address' : 'uint256',
    })),
    outputs: [],
    stateMutability: 'nonpayable',
  })
  return [...Array.from({ length: functions - 1 }, (_, i) => entry(`f${i}`)), entry('pay')] as Abi
}

describe('an interest ABI', () => {
  it('decodes each match once, when it is queued: reading a page reads no ABI and decodes nothing, and a calm client is served meanwhile', async () => {
    const abi = bigAbi(190, 6)
    expect(JSON.stringify(abi).length).toBeGreaterThan(ABI_LIMITS.bytes * 0.75)
    const heavy = await signIn('bulk')
    const calm = await signIn()
    const target = contract(1)
    const put = await call(heavy.token, 'PUT', `/v1/interests/${target}`, {
      filters: [{ code: 'all', args: [] }],
      abi,
    })
    expect(put.status).toBe(200)
    await backend.synced()

    // 1,000 calls of `pay` to the contract, in 10 blocks, and one call of nothing in the ABI.
    const [sender, payee] = (await anvil.accounts()) as [Hex, Hex]
    const args = Array.from({ length: 6 }, (_, i) => (i % 2 ? payee : BigInt(i + 1)))
    const data = encodeFunctionData({ abi, functionName: 'pay', args })
    await anvil.rpc('evm_setAutomine', [false])
    try {
      for (let block = 0; block < 10; block++) {
        for (let i = 0; i < 100; i++)
          await anvil.rpc('eth_sendTransaction', [{ from: sender, to: target, data, gas: '0x30000' }])
        await anvil.rpc('evm_mine')
      }
    } finally {
      await anvil.rpc('evm_setAutomine', [true])
    }
    const unknown = await anvil.rpc<string>('eth_sendTransaction', [
      { from: sender, to: target, data: '0xdeadbeef' },
    ])
    await waitForReceipt(anvil, unknown)
    await backend.synced()

    const db = backend.service.storage!.db
    const id = hexToBytes(heavy.clientId)
    const queued = () =>
      db
        .selectFrom('client_deliveries')
        .select(['cursor', 'payload'])
        .where('client_id', '=', id)
        .where('kind', '=', 'tx')
        .orderBy('cursor')
        .execute()
    await waitUntil(async () => (await queued()).length === 1_001, 30_000, '1,001 queued items')
    // The queue holds the decoded call itself: decoded when queued, null where the ABI does not fit.
    const rows = await queued()
    const expected = {
      name: 'pay',
      args: args.map((arg) => (typeof arg === 'bigint' ? arg.toString() : getAddress(arg))),
    }
    expect(rows.slice(0, 1_000).map((row) => decodedOf(row.payload))).toEqual(Array(1_000).fill(expected))
    expect((rows[1_000]!.payload as { decoded?: unknown }).decoded).toBeNull()

    // Reading does not decode: with the ABI taken away behind the service's back, a page still
    // carries what was decoded when the items were queued.
    await db
      .updateTable('client_contracts')
      .set({ abi: JSON.stringify([]) })
      .where('client_id', '=', id)
      .execute()
    const calmStatuses: number[] = []
    const calmReads = (async () => {
      for (let i = 0; i < 10; i++) calmStatuses.push((await call(calm.token, 'GET', '/v1/interests')).status)
    })()
    const page = await call(heavy.token, 'GET', '/v1/deliveries?limit=1000')
    expect(page.status).toBe(200)
    const { items } = (await page.json()) as { items: { kind: string; decoded?: unknown }[] }
    const txs = items.filter((item) => item.kind === 'tx')
    expect(txs).toHaveLength(1_000)
    expect(txs.map((item) => item.decoded)).toEqual(Array(1_000).fill(expected))
    await calmReads
    expect(calmStatuses).toEqual(Array(10).fill(200))
  })

  it('decodes an item queued before its interest had an ABI once, on its first read, and stores the decoded form', async () => {
    const { token, clientId } = await signIn()
    const target = contract(2)
    const abi = bigAbi(3, 2)
    expect(
      (await call(token, 'PUT', `/v1/interests/${target}`, { filters: [{ code: 'all', args: [] }] })).status,
    ).toBe(200)
    await backend.synced()
    const [sender, payee] = (await anvil.accounts()) as [Hex, Hex]
    const args = [7n, payee] as const
    const hash = await anvil.rpc<string>('eth_sendTransaction', [
      { from: sender, to: target, data: encodeFunctionData({ abi, functionName: 'pay', args }) },
    ])
    await waitForReceipt(anvil, hash)
    await backend.synced()
    const db = backend.service.storage!.db
    const stored = () =>
      db
        .selectFrom('client_deliveries')
        .select('payload')
        .where('client_id', '=', hexToBytes(clientId))
        .where('kind', '=', 'tx')
        .executeTakeFirst()
    await waitUntil(async () => (await stored()) !== undefined, 15_000, 'the queued item')
    expect('decoded' in ((await stored())!.payload as object)).toBe(false)

    expect(
      (await call(token, 'PUT', `/v1/interests/${target}`, { filters: [{ code: 'all', args: [] }], abi }))
        .status,
    ).toBe(200)
    const expected = { name: 'pay', args: ['7', getAddress(payee)] }
    const read = async () =>
      (
        (await (await call(token, 'GET', '/v1/deliveries')).json()) as {
          items: { kind: string; decoded?: unknown }[]
        }
      ).items.find((item) => item.kind === 'tx')
    expect((await read())?.decoded).toEqual(expected)
    expect(decodedOf((await stored())!.payload)).toEqual(expected)
    // Stored, it is not decoded again: the ABI is no longer needed to read it.
    await db
      .updateTable('client_contracts')
      .set({ abi: JSON.stringify([]) })
      .where('client_id', '=', hexToBytes(clientId))
      .execute()
    expect((await read())?.decoded).toEqual(expected)
  })

  it('is refused with 400 and a code when it is too big, nested too deep or not of Solidity types', async () => {
    const { token } = await signIn('bulk')
    const put = async (abi: unknown) => {
      const response = await call(token, 'PUT', `/v1/interests/${contract(3)}`, { filters: [], abi })
      return {
        status: response.status,
        body: (await response.json()) as { code: string; details?: { path?: string } },
      }
    }
    const fn = (inputs: unknown[], name = 'f') => ({ type: 'function', name, inputs, outputs: [] })
    const tuple = (depth: number): unknown =>
      depth === 0
        ? { name: 'x', type: 'uint256' }
        : { name: 'x', type: 'tuple', components: [tuple(depth - 1)] }

    expect(await put(bigAbi(190, 6))).toMatchObject({ status: 200 })
    expect(await put(bigAbi(ABI_LIMITS.entries + 1, 0))).toMatchObject({
      status: 400,
      body: { code: 'ABI_TOO_LARGE' },
    })
    expect(await put(bigAbi(ABI_LIMITS.entries, 6))).toMatchObject({
      status: 400,
      body: { code: 'ABI_TOO_LARGE' },
    })
    expect(await put(bigAbi(2, ABI_LIMITS.paramsPerEntry + 1))).toMatchObject({
      status: 400,
      body: { code: 'ABI_TOO_LARGE', details: { path: 'abi/0' } },
    })
    expect(await put([fn([tuple(ABI_LIMITS.tupleDepth)])])).toMatchObject({ status: 200 })
    expect(await put([fn([tuple(ABI_LIMITS.tupleDepth + 1)])])).toMatchObject({
      status: 400,
      body: { code: 'ABI_TOO_LARGE' },
    })
    expect(await put([fn([{ type: 'uint256[2000]' }])])).toMatchObject({
      status: 400,
      body: { code: 'ABI_TOO_LARGE' },
    })
    for (const [abi, path] of [
      [[fn([{ type: 'uint257' }])], 'abi/0/inputs/0/type'],
      [[fn([{ type: 'fixed128x18' }])], 'abi/0/inputs/0/type'],
      [[fn([{ type: 'tuple' }])], 'abi/0/inputs/0/components'],
      [[fn([], 'not a name')], 'abi/0/name'],
      [[fn([], 'x'.repeat(ABI_LIMITS.nameLength + 1))], 'abi/0/name'],
      [[{ ...fn([]), type: 'method' }], 'abi/0/type'],
      [[{ ...fn([]), extra: 1 }], 'abi/0/extra'],
      [['transfer(address,uint256)'], 'abi/0'],
    ] as const) {
      expect(await put(abi)).toMatchObject({ status: 400, body: { code: 'INVALID_ABI', details: { path } } })
    }
  })
})

describe('hostile JSON', () => {
  it('is refused with 400 and a code, never a 500: arrays nested 10,000 deep, U+0000 and lone surrogates', async () => {
    const { token } = await signIn('bulk')
    const path = `/v1/interests/${contract(4)}`
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`
    for (const body of [
      `{"filters":[{"code":"logs","args":[${deep}]}]}`,
      `{"filters":[],"abi":[${deep}]}`,
      `{"filters":[],"abi":[{"type":"function","name":"f","inputs":[${deep}]}]}`,
    ]) {
      const response = await call(token, 'PUT', path, body)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ code: 'INPUT_TOO_DEEP' })
    }
    for (const name of ['f\u0000', 'f\ud800', '\udc00f']) {
      const response = await call(token, 'PUT', path, {
        filters: [],
        abi: [{ type: 'function', name, inputs: [], outputs: [] }],
      })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({
        code: 'INVALID_STRING',
        details: { path: 'body/abi/0/name' },
      })
    }
    // Anywhere in a body, keys too, on any route.
    for (const [method, route, body] of [
      ['PUT', path, { filters: [{ code: 'logs', args: ['\u0000'] }] }],
      ['PUT', path, { filters: [], '\ud83d': 1 }],
      ['POST', '/v1/deliveries/ack', { cursor: 0, note: '\udfff' }],
    ] as const) {
      const response = await call(token, method, route, body)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ code: 'INVALID_STRING' })
    }
    // A well-formed pair is text like any other.
    const fine = await call(token, 'PUT', path, {
      filters: [],
      abi: [{ type: 'event', name: 'E', inputs: [{ name: 'x', type: 'uint8', internalType: 'enum A' }] }],
    })
    expect(fine.status).toBe(200)
  })
})

describe('list reads', () => {
  it('charge the client for the bytes of the list, not one unit however long it is', async () => {
    const { token } = await signIn('lister')
    for (let n = 5; n < 9; n++) {
      const put = await call(token, 'PUT', `/v1/interests/${contract(n)}`, {
        filters: [],
        abi: bigAbi(190, 6),
      })
      expect(put.status).toBe(200)
    }
    // About 240 KB a read, 15 units: the burst of 100 is spent within a few reads. Charged 1
    // each, 30 reads and the writes stay below even half the burst, however little time passes.
    const statuses: number[] = []
    for (let i = 0; i < 30 && !statuses.includes(429); i++)
      statuses.push((await call(token, 'GET', '/v1/interests')).status)
    expect(statuses).toContain(429)
    expect(statuses.filter((status) => status === 200).length).toBeLessThan(10)
  })
})

const decodedOf = (payload: unknown) => (payload as { decoded?: unknown }).decoded
