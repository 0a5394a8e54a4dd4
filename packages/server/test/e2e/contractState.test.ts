import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { DeliveryItem, StateChange, WalletBackendError } from '@wallet-backend/sdk'
import { getContractAddress, type Hex, keccak256 } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import {
  CREATE2_FACTORY_INIT,
  deploy,
  GET_ABI,
  GET_SELECTOR,
  RELAY_INIT,
  STORE_INIT,
  waitForReceipt,
  word,
} from '../support/chainActivity.js'
import { startFaultyNode } from '../support/faultyNode.js'

let anvil: TestAnvil
let backend: TestBackend
let accounts: Hex[]
const hex = (n: number): Hex => `0x${n.toString(16)}`

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = await anvil.accounts()
  backend = await startBackend(anvil, { 'deployment-sweep-ms': '200' })
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

const WATCHES = [
  { kind: 'balance' as const, args: [] },
  { kind: 'slot' as const, args: ['0x0'] },
  { kind: 'call' as const, args: [GET_SELECTOR] },
]

async function send(tx: { from: Hex; to: Hex; data?: Hex; value?: Hex; gas?: Hex }): Promise<void> {
  await waitForReceipt(anvil, await anvil.rpc<string>('eth_sendTransaction', [tx]))
}

/** What the node itself says of the watched values at a block. */
async function nodeValues(address: Hex, block: number | Hex): Promise<Record<string, unknown>> {
  const tag = typeof block === 'number' ? hex(block) : block
  const [balance, slot, call] = await Promise.all([
    anvil.rpc<Hex>('eth_getBalance', [address, tag]),
    anvil.rpc<Hex>('eth_getStorageAt', [address, '0x0', tag]),
    anvil.rpc<Hex>('eth_call', [{ to: address, data: GET_SELECTOR }, tag]),
  ])
  return { balance: hex(Number(BigInt(balance))), slot: word(slot), call: { result: call } }
}

const keyOf = (item: DeliveryItem) => (item.data as StateChange).watch.kind
const stateOf = (items: DeliveryItem[]) => items.filter((i) => i.kind === 'state')

/** Waits until the client has `n` items in all (first values are queued in the background). */
const atLeast = (c: ReturnType<TestBackend['client']>, n: number) => backend.atLeast(c, n)

/**
 * First reads of a (contract, block) by eth_getProof. Re-reads are left out: anvil under load now
 * and then answers with another block's state, which is refused and read again with its batch.
 */
async function readsOfProofs(): Promise<number> {
  const metric = async (name: string) =>
    (await backend.service.metrics.getSingleMetric(name)!.get()).values.find(
      (v) => v.labels.method === 'eth_getProof' || name.endsWith('rereads_total'),
    )?.value ?? 0
  return (
    (await metric('wallet_backend_contract_state_reads_total')) -
    (await metric('wallet_backend_contract_state_rereads_total'))
  )
}

describe('contract-state watches (on anvil, compared with the node)', () => {
  it('delivers exactly the changes of balance, slot and view call, including a change by an internal call with no log', async () => {
    const store = await deploy(anvil, STORE_INIT)
    const relay = await deploy(anvil, RELAY_INIT)
    await backend.synced()
    const alice = backend.client()
    const bob = backend.client()
    await Promise.all([alice.signIn(), bob.signIn()])
    const interest = await alice.putInterest(store, { filters: [], watches: WATCHES, abi: [...GET_ABI] })
    expect(interest.watches.map((w) => w.kind)).toEqual(['balance', 'slot', 'call'])
    await bob.putInterest(store, { filters: [], watches: [{ kind: 'slot', args: ['0x00'] }] })

    // First values: the node's at the head the watch was installed at.
    const initial = await atLeast(alice, 3)
    expect(initial.map((i) => (i.data as StateChange).reason)).toEqual(['initial', 'initial', 'initial'])
    const start = initial[0]!.block!.number
    const truthAtStart = await nodeValues(store, start)
    expect(Object.fromEntries(initial.map((i) => [keyOf(i), (i.data as StateChange).value]))).toEqual(
      truthAtStart,
    )
    expect((initial[2]!.data as StateChange).decoded).toEqual({ name: 'get', result: '0' })
    expect(await atLeast(bob, 1)).toHaveLength(1)

    const proofsBefore = await readsOfProofs()
    const first = await anvil.blockNumber()
    await send({ from: accounts[0]!, to: store, value: '0x5' }) // balance
    await send({ from: accounts[0]!, to: store, data: word(7n) }) // slot and call, touched directly
    await send({ from: accounts[1]!, to: relay, data: `${word(store)}${word(9n).slice(2)}` as Hex }) // by an internal call
    await send({ from: accounts[2]!, to: accounts[3]!, value: '0x1' }) // nothing of the store
    await send({ from: accounts[0]!, to: store, data: word(9n) }) // touched, same value: nothing
    await backend.synced()
    const last = await anvil.blockNumber()

    // Ground truth: compare the node's values block by block.
    const expected: { kind: string; block: number; value: unknown }[] = []
    let before = truthAtStart
    for (let n = start + 1; n <= last; n++) {
      const now = await nodeValues(store, n)
      for (const kind of ['balance', 'slot', 'call']) {
        if (JSON.stringify(now[kind]) !== JSON.stringify(before[kind]))
          expected.push({ kind, block: n, value: now[kind] })
      }
      before = now
    }
    expect(expected.map((e) => e.kind)).toEqual(['balance', 'slot', 'call', 'slot', 'call'])
    const changes = stateOf(await backend.everything(alice, initial.at(-1)!.cursor))
    expect(
      changes.map((i) => ({ kind: keyOf(i), block: i.block!.number, value: (i.data as StateChange).value })),
    ).toEqual(expected)
    expect(changes.every((i) => (i.data as StateChange).reason === 'changed')).toBe(true)
    expect((changes.at(-1)!.data as StateChange).previous).toEqual({
      value: { result: word(7n) },
      blockNumber: first + 2,
    })
    expect((changes.at(-1)!.data as StateChange).decoded).toEqual({ name: 'get', result: '9' })
    const bobs = stateOf(await backend.everything(bob))
    expect(bobs.map((i) => (i.data as StateChange).value)).toEqual([word(0n), word(7n), word(9n)])
    // One eth_getProof per block for the contract, however many clients watch its values.
    expect((await readsOfProofs()) - proofsBefore).toBe(last - first)
  })

  it('withdraws a change a reorg undoes, and sends the new chain’s value', async () => {
    const store = await deploy(anvil, STORE_INIT)
    await send({ from: accounts[0]!, to: store, data: word(1n) })
    await backend.synced()
    const c = backend.client()
    await c.signIn()
    await c.putInterest(store, { filters: [], watches: [{ kind: 'slot', args: ['0x0'] }] })
    const [initial] = await atLeast(c, 1)
    expect((initial!.data as StateChange).value).toBe(word(1n))

    await send({ from: accounts[0]!, to: store, data: word(2n) })
    await backend.synced()
    const [changed] = await backend.everything(c, initial!.cursor) // delivered
    expect((changed!.data as StateChange).value).toBe(word(2n))

    // The block that stored 2 is replaced by one that stores 3 instead.
    const nonce = await anvil.rpc<Hex>('eth_getTransactionCount', [accounts[0], 'latest'])
    const gasPrice = await anvil.rpc<Hex>('eth_gasPrice')
    const signed = await anvil.rpc<Hex>('eth_signTransaction', [
      {
        from: accounts[0],
        to: store,
        data: word(3n),
        nonce: hex(Number(nonce) - 1),
        gas: '0x186a0',
        gasPrice,
      },
    ])
    await anvil.reorg(1, [[signed, 0]])
    await backend.synced()
    const after = await backend.everything(c, changed!.cursor)
    expect(after.map((i) => i.kind)).toEqual(['removed', 'state'])
    expect(after[0]!.data).toMatchObject({
      removedCursor: changed!.cursor,
      removedKind: 'state',
      reason: 'reorg',
    })
    const head = await anvil.block('latest')
    expect(after[1]!.block).toEqual({ number: Number(head.number), hash: head.hash })
    expect((after[1]!.data as StateChange).value).toBe(word(3n))

    // A reorg to an empty block: the value goes back to the one before, and the client is told so.
    await anvil.reorg(1)
    await backend.synced()
    const undone = await backend.everything(c, after[1]!.cursor)
    expect(undone.map((i) => i.kind)).toEqual(['removed', 'state'])
    expect(undone[1]!.data).toMatchObject({ value: word(1n), reason: 'reorg' })
    expect(word(await anvil.rpc<Hex>('eth_getStorageAt', [store, '0x0', 'latest']))).toBe(word(1n))
  })

  it('delivers the first state of a watched CREATE2 address at its deployment', async () => {
    const factory = await deploy(anvil, CREATE2_FACTORY_INIT)
    const child = getContractAddress({
      opcode: 'CREATE2',
      from: factory,
      salt: `0x${'00'.repeat(32)}`,
      bytecode: STORE_INIT,
    })
    await backend.synced()
    const c = backend.client()
    await c.signIn()
    await c.putInterest(child, {
      filters: [],
      watches: [...WATCHES, { kind: 'codeHash', args: [] }],
      abi: [...GET_ABI],
    })
    // No code yet: an account's fields are there, its slots and calls say nothing until deployment.
    const initial = await atLeast(c, 2)
    expect(initial.map(keyOf)).toEqual(['balance', 'codeHash'])
    expect((initial[1]!.data as StateChange).value).toBe(keccak256('0x'))

    // Explicit gas: the factory ignores a failed CREATE2, so an estimate may leave the child none.
    await send({ from: accounts[4]!, to: factory, data: STORE_INIT, gas: '0x7a120' })
    expect(await anvil.rpc('eth_getCode', [child, 'latest'])).not.toBe('0x')
    await backend.synced()
    const deployedAt = await anvil.blockNumber()
    const items = await atLeast(c, initial.length + 5)
    const states = stateOf(items.slice(initial.length))
    expect(states.map(keyOf)).toEqual(['balance', 'slot', 'call', 'codeHash'])
    expect(
      states.every((i) => (i.data as StateChange).reason === 'deployed' && i.block!.number === deployedAt),
    ).toBe(true)
    const truth = await nodeValues(child, deployedAt)
    expect(states.slice(0, 3).map((i) => (i.data as StateChange).value)).toEqual([
      truth.balance,
      truth.slot,
      truth.call,
    ])
    const code = await anvil.rpc<Hex>('eth_getCode', [child, 'latest'])
    expect((states[3]!.data as StateChange).value).toBe(keccak256(code))
    // No receipt names the child: reading its code at the block is its deployment, recorded once.
    expect(items.filter((i) => i.kind === 'deployed')).toMatchObject([
      { block: { number: deployedAt }, data: { detectedBy: 'state' } },
    ])
  })

  it('keeps watching across a restart: changes made while it was down come once, first values do not come again', async () => {
    const store = await deploy(anvil, STORE_INIT)
    await backend.synced()
    const account = privateKeyToAccount(generatePrivateKey())
    const c = backend.client(account)
    await c.signIn()
    await c.putInterest(store, { filters: [], watches: [{ kind: 'slot', args: ['0x0'] }] })
    const [initial] = await atLeast(c, 1)
    await send({ from: accounts[0]!, to: store, data: word(5n) })
    await backend.synced()
    const [five] = await backend.everything(c, initial!.cursor)
    await c.ack(five!.cursor)
    await backend.restart(async () => {
      await send({ from: accounts[0]!, to: store, data: word(6n) })
      await send({ from: accounts[0]!, to: store, data: word(7n) })
    })
    await backend.synced()
    const again = backend.client(account)
    await again.signIn()
    const items = await backend.everything(again)
    expect(items.map((i) => [(i.data as StateChange).reason, (i.data as StateChange).value])).toEqual([
      ['changed', word(6n)],
      ['changed', word(7n)],
    ])
    const head = await anvil.blockNumber()
    expect(items.map((i) => i.block!.number)).toEqual([head - 1, head])
  })

  it('catches up past blocks whose state the node no longer has (it restarted without its history)', async () => {
    // A node of its own: restarting it takes the states of past blocks away from every test.
    const node = await startAnvil()
    const own = await startBackend(node, { 'catch-up-batch-size': '10' })
    try {
      const [sender] = await node.accounts()
      const store = await deploy(node, STORE_INIT)
      await own.synced()
      const account = privateKeyToAccount(generatePrivateKey())
      const c = own.client(account)
      await c.signIn()
      await c.putInterest(store, { filters: [], watches: [{ kind: 'slot', args: ['0x0'] }] })
      const [initial] = await own.atLeast(c, 1)
      const write = async (value: bigint) =>
        waitForReceipt(
          node,
          await node.rpc<string>('eth_sendTransaction', [{ from: sender, to: store, data: word(value) }]),
        )
      await own.restart(async () => {
        // Whole catch-up batches of blocks the node will not serve the state of once restarted.
        await write(5n)
        await node.mine(30)
        await node.restart()
        await expect(
          node.rpc('eth_getStorageAt', [store, '0x0', hex((await node.blockNumber()) - 1)]),
        ).rejects.toThrow()
        await write(6n)
      })
      await own.synced()
      const again = own.client(account)
      await again.signIn()
      const items = await own.everything(again, initial!.cursor)
      // The change to 5 happened where the state is gone: it shows at the first block served
      // after it (the one the node restarted at), if any; the last value is the node's.
      const values = items.map((i) => (i.data as StateChange).value)
      expect(values.every((value) => value === word(5n) || value === word(6n))).toBe(true)
      expect(values.at(-1)).toBe(word(6n))
      expect(items.at(-1)!.block!.number).toBe(await node.blockNumber())
    } finally {
      await own.stop()
      await node.stop()
    }
  })

  it('queues nothing for a dormant client, and sends the current values when it returns', async () => {
    const store = await deploy(anvil, STORE_INIT)
    await backend.synced()
    const c = backend.client()
    await c.signIn()
    await c.putInterest(store, { filters: [], watches: [{ kind: 'slot', args: ['0x0'] }] })
    const [initial] = await atLeast(c, 1)
    await c.ack(initial!.cursor)
    const token = readFileSync(join(backend.dataDir, 'admin-token'), 'utf8').trim()
    const dormant = await fetch(`${backend.service.url}/admin/clients/${c.clientId}/dormant`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(dormant.status).toBe(200)
    expect(backend.service.health().state).toBe('live')
    await send({ from: accounts[0]!, to: store, data: word(8n) })
    await send({ from: accounts[0]!, to: store, data: word(9n) })
    await backend.synced()
    await c.signIn() // back: a gap, then the value now
    const items = await atLeast(c, 2)
    expect(items.map((i) => i.kind)).toEqual(['gap', 'state'])
    expect(items[1]!.data).toMatchObject({ reason: 'initial', value: word(9n) })
  })

  it('refuses a state answer that does not prove against its block, and reports the change where it happened', async () => {
    // anvil answers honestly; a proxy makes it answer once with a slot value its proof does not hold.
    const faulty = await startFaultyNode(anvil.node.httpUrl)
    const proxied = await startBackend(anvil, { 'node-url': [faulty.url] })
    try {
      const store = await deploy(anvil, STORE_INIT)
      await proxied.synced()
      const c = proxied.client()
      await c.signIn()
      await c.putInterest(store, { filters: [], watches: [{ kind: 'slot', args: ['0x0'] }] })
      const [initial] = await proxied.atLeast(c, 1)
      let forged = 0
      faulty.tamper = (message, answer) => {
        if (message.method !== 'eth_getProof' || forged > 0) return undefined
        const result = answer.result as { storageProof: { value: string }[] }
        forged++
        return {
          ...answer,
          result: { ...result, storageProof: [{ ...result.storageProof[0]!, value: '0x63' }] },
        }
      }
      await send({ from: accounts[2]!, to: accounts[3]!, value: '0x1' }) // the forged block: nothing changed
      await proxied.synced()
      await send({ from: accounts[0]!, to: store, data: word(4n) }) // the real change
      await proxied.synced()
      expect(forged).toBe(1)
      const items = await proxied.everything(c, initial!.cursor)
      expect(items.map((i) => [i.block!.number, (i.data as StateChange).value])).toEqual([
        [await anvil.blockNumber(), word(4n)],
      ])
      const refused = await proxied.service.metrics
        .getSingleMetric('wallet_backend_contract_state_proofs_refused_total')!
        .get()
      expect(refused.values[0]?.value).toBe(1)
      // The refused block was read again, and that read is told apart from first reads.
      const rereads = await proxied.service.metrics
        .getSingleMetric('wallet_backend_contract_state_rereads_total')!
        .get()
      expect(rereads.values[0]?.value).toBeGreaterThanOrEqual(1)
    } finally {
      await proxied.stop()
      await faulty.close()
    }
  })

  it('refuses malformed watches with 400 and a code, and stores nothing of them', async () => {
    const c = backend.client()
    await c.signIn()
    const target = '0x00000000000000000000000000000000000000aa'
    const cases: [unknown, string][] = [
      [[{ kind: 'storage', args: [] }], 'INVALID_WATCH'],
      [[{ kind: 'balance', args: ['0x1'] }], 'INVALID_WATCH'],
      [[{ kind: 'slot', args: [] }], 'INVALID_WATCH'],
      [[{ kind: 'slot', args: [`0x${'1'.repeat(65)}`] }], 'INVALID_WATCH'],
      [[{ kind: 'slot', args: [12] }], 'INVALID_WATCH'],
      [[{ kind: 'call', args: ['0x1234'] }], 'INVALID_WATCH'],
      [[{ kind: 'call', args: [`0x${'ab'.repeat(1025)}`] }], 'INVALID_WATCH'],
      [[{ kind: 'call', args: ['0x6d4ce63'] }], 'INVALID_WATCH'],
      [Array.from({ length: 17 }, () => ({ kind: 'balance', args: [] })), 'TOO_MANY_WATCHES'],
      ['balance', 'INVALID_REQUEST'],
    ]
    for (const [watches, code] of cases) {
      const error = await c
        .putInterest(target, { filters: [], watches: watches as never })
        .catch((e: WalletBackendError) => e)
      expect(error, JSON.stringify(watches).slice(0, 80)).toMatchObject({ status: 400, code })
    }
    expect(await c.listInterests()).toEqual([])
  })
})
