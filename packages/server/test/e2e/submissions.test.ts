import {
  type DeliveryItem,
  type Submission,
  type SubmissionStatus,
  type SubmissionStatusChange,
  WalletBackendClient,
  type WalletBackendError,
} from '@wallet-backend/sdk'
import {
  type Hex,
  keccak256,
  type LocalAccount,
  parseGwei,
  serializeTransaction,
  type TransactionSerializableEIP1559,
} from 'viem'
import { generatePrivateKey, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { deployLogger, waitForReceipt } from '../support/chainActivity.js'

const TTL_MS = 3000
const REBROADCAST_MS = 400
/** anvil's well-known development accounts; each test signs with its own, so nonces never collide. */
const dev = (index: number) =>
  mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: index })

let anvil: TestAnvil
let backend: TestBackend
let chainId: number
let target: Hex

/** A client signed in and interested in the target contract; `headers` has those of its last response. */
async function client(): Promise<{ c: WalletBackendClient; headers: () => Headers }> {
  let last = new Headers()
  const c = new WalletBackendClient({
    url: backend.service.url,
    account: privateKeyToAccount(generatePrivateKey()),
    fetch: async (input, init) => {
      const response = await fetch(input, init)
      last = response.headers
      return response
    },
  })
  await c.signIn()
  await c.putInterest(target, { filters: [{ code: 'all', args: [] }] })
  return { c, headers: () => last }
}

async function nonceOf(account: LocalAccount): Promise<number> {
  return Number(await anvil.rpc<Hex>('eth_getTransactionCount', [account.address, 'pending']))
}

/** A call of the target contract, signed; fields can be overridden. */
async function signed(
  account: LocalAccount,
  overrides: Partial<TransactionSerializableEIP1559> = {},
): Promise<Hex> {
  return account.signTransaction({
    type: 'eip1559',
    chainId,
    to: target,
    nonce: await nonceOf(account),
    gas: 100_000n,
    maxFeePerGas: parseGwei('10'),
    maxPriorityFeePerGas: parseGwei('1'),
    ...overrides,
  } as TransactionSerializableEIP1559)
}

async function refusal(promise: Promise<unknown>): Promise<WalletBackendError> {
  try {
    await promise
  } catch (error) {
    return error as WalletBackendError
  }
  throw new Error('expected the call to be refused')
}

async function waitForStatus(
  c: WalletBackendClient,
  hash: Hex,
  status: SubmissionStatus,
  also: (submission: Submission) => boolean = () => true,
): Promise<Submission> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const current = await c.getTransaction(hash)
    if (current.status === status && also(current)) return current
    if (Date.now() > deadline)
      throw new Error(`${hash} is ${current.status} (${JSON.stringify(current.block)}), not ${status}`)
    backend.service.follower?.poke()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Every item queued for the client so far (not acknowledged, so reading twice sees them again). */
const everything = (c: WalletBackendClient) => backend.everything(c)

const statusChanges = (items: DeliveryItem[], hash: Hex) =>
  items
    .filter((item) => item.kind === 'submitted-status' && item.txHash === hash)
    .map((item) => ({ ...(item.data as SubmissionStatusChange), block: item.block, cursor: item.cursor }))

async function withoutMining<T>(work: () => Promise<T>): Promise<T> {
  await anvil.rpc('evm_setAutomine', [false])
  try {
    return await work()
  } finally {
    await anvil.rpc('evm_setAutomine', [true])
  }
}

beforeAll(async () => {
  // One slot per epoch: `finalized` is two blocks below the head, so finality comes quickly.
  anvil = await startAnvil({ extraArgs: ['--slots-in-an-epoch', '1'] })
  chainId = Number(await anvil.rpc<Hex>('eth_chainId'))
  target = (await deployLogger(anvil)).toLowerCase() as Hex
  backend = await startBackend(anvil, {
    'registration-pow-bits': '4',
    'submission-ttl-ms': String(TTL_MS),
    'submission-rebroadcast-ms': String(REBROADCAST_MS),
    'submission-check-ms': '100',
    'max-pending-submissions-per-client': '2',
  })
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

describe('transaction submission and tracking (through the SDK, on anvil)', () => {
  it('forwards a valid transaction and tracks it to included and final; a repeat answers the same record', async () => {
    const { c } = await client()
    const account = dev(1)
    const raw = await signed(account)
    const hash = keccak256(raw)
    const submitted = await c.submitTransaction(raw)
    expect(submitted).toMatchObject({
      hash,
      status: 'pending',
      from: account.address.toLowerCase(),
      nonce: 0,
      interest: target,
      block: null,
    })
    await waitForReceipt(anvil, hash)
    const receipt = await anvil.rpc<{ blockNumber: Hex; blockHash: Hex; gasUsed: Hex; status: Hex }>(
      'eth_getTransactionReceipt',
      [hash],
    )
    const included = await waitForStatus(c, hash, 'included')
    expect(included.block).toEqual({ number: Number(receipt.blockNumber), hash: receipt.blockHash })
    expect(included.outcome).toMatchObject({ success: true, gasUsed: BigInt(receipt.gasUsed).toString() })
    await anvil.mine(3)
    const final = await waitForStatus(c, hash, 'final')
    expect(final.block).toEqual(included.block)

    const again = await c.submitTransaction(raw)
    expect(again).toMatchObject({ hash, status: 'final', submittedAt: submitted.submittedAt })
    const items = await everything(c)
    const changes = statusChanges(items, hash)
    expect(changes.map((change) => [change.previous, change.status, change.reason])).toEqual([
      [null, 'pending', 'submitted'],
      ['pending', 'included', 'mined'],
      ['included', 'final', 'finalized'],
    ])
    expect(changes[1]!.block).toEqual(included.block)
    expect(changes[1]!.outcome?.gasUsed).toBe(BigInt(receipt.gasUsed).toString())
    // The interest's own filter saw the same transaction.
    expect(items.some((item) => item.kind === 'tx' && item.txHash === hash)).toBe(true)
  })

  it('refuses bad transactions before the node with clear 4xx codes, and records none of them', async () => {
    const { c } = await client()
    const account = dev(2)
    const nonce = await nonceOf(account)
    const cases: [string, Hex | string, number, string][] = [
      ['not hex', 'hello', 400, 'INVALID_REQUEST'],
      ['odd hex', '0x123', 400, 'INVALID_REQUEST'],
      ['a typed envelope with garbage inside', '0x02abcdef', 400, 'TX_MALFORMED'],
      ['random bytes', `0x${'5a'.repeat(120)}`, 400, 'TX_MALFORMED'],
      ['for another chain', await signed(account, { chainId: chainId + 1 }), 400, 'TX_WRONG_CHAIN'],
      [
        'to an address of no interest',
        await signed(account, { to: dev(9).address }),
        400,
        'TX_NOT_FOR_INTEREST',
      ],
      [
        'unsigned',
        serializeTransaction({
          type: 'eip1559',
          chainId,
          to: target,
          nonce,
          gas: 100_000n,
          maxFeePerGas: 1n,
        }),
        400,
        'TX_UNSIGNED',
      ],
      [
        'oversized',
        await signed(account, { data: `0x${'00'.repeat(140_000)}`, gas: 3_000_000n }),
        413,
        'TX_TOO_LARGE',
      ],
      [
        'a fee below the base fee',
        await signed(account, { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n }),
        400,
        'FEE_TOO_LOW',
      ],
      ['gas below intrinsic gas', await signed(account, { gas: 100n }), 400, 'GAS_TOO_LOW'],
      [
        'from an account without ether',
        await signed(privateKeyToAccount(generatePrivateKey())),
        400,
        'INSUFFICIENT_FUNDS',
      ],
    ]
    for (const [what, raw, status, code] of cases) {
      const error = await refusal(c.submitTransaction(raw as Hex))
      expect({ what, status: error.status, code: error.code }).toEqual({ what, status, code })
      if (/^0x([0-9a-f]{2})+$/i.test(raw)) {
        const missing = await refusal(c.getTransaction(keccak256(raw as Hex)))
        expect({ what, code: missing.code }).toEqual({ what, code: 'TRANSACTION_NOT_FOUND' })
      }
    }
    const wrongChain = await refusal(c.submitTransaction(cases[4]![1] as Hex))
    expect(wrongChain.details).toEqual({ expected: chainId, actual: chainId + 1 })
    expect((await refusal(c.getTransaction('0x1234' as Hex))).code).toBe('INVALID_REQUEST')
    expect(await nonceOf(account)).toBe(nonce) // nothing reached the chain
    expect((await everything(c)).filter((item) => item.kind === 'submitted-status')).toEqual([])
  })

  it('maps nonce too low and an underpriced replacement to 409 codes', async () => {
    const { c } = await client()
    const account = dev(3)
    const first = await signed(account)
    await c.submitTransaction(first)
    await waitForReceipt(anvil, keccak256(first))
    const reused = await signed(account, { nonce: 0, value: 1n })
    const tooLow = await refusal(c.submitTransaction(reused))
    expect([tooLow.status, tooLow.code]).toEqual([409, 'NONCE_TOO_LOW'])
    await withoutMining(async () => {
      const pending = await signed(account)
      await c.submitTransaction(pending)
      const cheap = await signed(account, { nonce: 1, value: 2n })
      const underpriced = await refusal(c.submitTransaction(cheap))
      expect([underpriced.status, underpriced.code]).toEqual([409, 'REPLACEMENT_UNDERPRICED'])
      expect((await refusal(c.getTransaction(keccak256(cheap)))).code).toBe('TRANSACTION_NOT_FOUND')
      await anvil.mine()
      await waitForStatus(c, keccak256(pending), 'included')
    })
  })

  it('finds a transaction mined in a block stored before its submission was recorded', async () => {
    const { c } = await client()
    const account = dev(9)
    const raw = await signed(account)
    const hash = keccak256(raw)
    // Sent around the backend and mined: its block is stored before the backend records anything,
    // so only the reconciliation's receipt lookup can find it. The node answers "nonce too low".
    await anvil.rpc('eth_sendRawTransaction', [raw])
    await waitForReceipt(anvil, hash)
    await backend.synced()
    const receipt = await anvil.rpc<{ blockHash: Hex }>('eth_getTransactionReceipt', [hash])
    expect((await c.submitTransaction(raw)).status).toBe('pending')
    const included = await waitForStatus(c, hash, 'included')
    expect(included.block?.hash).toBe(receipt.blockHash)
    expect(statusChanges(await everything(c), hash).map((change) => change.status)).toEqual([
      'pending',
      'included',
    ])
  })

  it('bounds the transactions a client may have pending at once', async () => {
    const { c } = await client()
    const account = dev(2) // the refusals left its nonce untouched
    await withoutMining(async () => {
      for (let i = 0; i < 2; i++) await c.submitTransaction(await signed(account))
      const third = await refusal(c.submitTransaction(await signed(account)))
      expect([third.status, third.code, third.details]).toEqual([
        409,
        'TOO_MANY_PENDING_SUBMISSIONS',
        { limit: 2 },
      ])
      await anvil.mine()
    })
  })

  it('reports a transaction replaced when another of the same sender and nonce is mined', async () => {
    const { c } = await client()
    const account = dev(4)
    const { a, b, block } = await withoutMining(async () => {
      const a = await signed(account)
      await c.submitTransaction(a)
      // The replacement goes to the node directly: the backend learns of it from the block only.
      const b = await signed(account, {
        nonce: 0,
        value: 5n,
        maxFeePerGas: parseGwei('20'),
        maxPriorityFeePerGas: parseGwei('2'),
      })
      await anvil.rpc('eth_sendRawTransaction', [b])
      await anvil.mine()
      return { a: keccak256(a), b: keccak256(b), block: await anvil.block('latest') }
    })
    const replaced = await waitForStatus(c, a, 'replaced')
    expect(replaced).toMatchObject({
      replacedBy: b,
      block: { number: Number(block.number), hash: block.hash },
    })
    expect(replaced.outcome).toBeNull()
    const changes = statusChanges(await everything(c), a)
    expect(changes.map((change) => [change.status, change.reason, change.replacedBy])).toEqual([
      ['pending', 'submitted', undefined],
      ['replaced', 'nonce-used', b],
    ])
    expect(changes[1]!.block?.hash).toBe(block.hash)
  })

  it('re-sends a pending transaction the node lost, and reports it dropped once its TTL passes unmined', async () => {
    const { c } = await client()
    const account = dev(5)
    await withoutMining(async () => {
      const raw = await signed(account)
      const hash = keccak256(raw)
      const started = Date.now()
      await c.submitTransaction(raw)
      await anvil.rpc('anvil_dropTransaction', [hash])
      expect(await anvil.rpc('eth_getTransactionByHash', [hash])).toBeNull()
      const deadline = Date.now() + TTL_MS
      while (!(await anvil.rpc('eth_getTransactionByHash', [hash]))) {
        if (Date.now() > deadline) throw new Error('the backend did not re-send the lost transaction')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(await c.getTransaction(hash)).toMatchObject({ status: 'pending' })
      const dropped = await waitForStatus(c, hash, 'dropped')
      expect(Date.now() - started).toBeGreaterThanOrEqual(TTL_MS)
      expect(Date.parse(dropped.expiresAt)).toBeLessThanOrEqual(Date.now())
      expect(
        statusChanges(await everything(c), hash).map((change) => [change.status, change.reason]),
      ).toEqual([
        ['pending', 'submitted'],
        ['dropped', 'expired'],
      ])
      // The node still had it (re-sent): mined after all, it is reported included.
      await anvil.mine()
      const late = await waitForStatus(c, hash, 'included')
      expect(late.outcome?.success).toBe(true)
      expect(statusChanges(await everything(c), hash).at(-1)).toMatchObject({
        previous: 'dropped',
        status: 'included',
      })
    })
  })

  it('puts a transaction reorged out back to pending, and includes it again in its new block', async () => {
    const { c } = await client()
    const account = dev(6)
    const raw = await signed(account)
    const hash = keccak256(raw)
    await c.submitTransaction(raw)
    const before = await waitForStatus(c, hash, 'included')
    const seen = statusChanges(await everything(c), hash) // the included item is now delivered
    expect(seen.map((change) => change.status)).toEqual(['pending', 'included'])
    await anvil.reorg(1, [[raw, 0]])
    const after = await anvil.block('latest')
    expect(after.hash).not.toBe(before.block!.hash)
    const again = await waitForStatus(c, hash, 'included', (current) => current.block?.hash === after.hash)
    expect(again.block).toEqual({ number: before.block!.number, hash: after.hash })
    const items = await everything(c)
    const removed = items.find(
      (item) => item.kind === 'removed' && item.data?.removedCursor === seen[1]!.cursor,
    )
    expect(removed?.data).toMatchObject({ removedKind: 'submitted-status', removedBlock: before.block })
    const changes = statusChanges(items, hash)
    expect(
      changes.map((change) => [change.previous, change.status, change.reason, change.block?.hash ?? null]),
    ).toEqual([
      [null, 'pending', 'submitted', null],
      ['included', 'pending', 'reorg', null],
      ['pending', 'included', 'mined', after.hash],
    ])
  })

  it('keeps tracking across a restart of the backend', async () => {
    const { c } = await client()
    const account = dev(7)
    await withoutMining(async () => {
      const raw = await signed(account)
      const hash = keccak256(raw)
      await c.submitTransaction(raw)
      await backend.restart(() => anvil.mine())
      const reconnected = backend.client(c.account)
      const included = await waitForStatus(reconnected, hash, 'included')
      expect(included.block?.number).toBe(await anvil.blockNumber())
    })
  })

  it('answers 503 with Retry-After while the node is down, and records nothing', async () => {
    const { c, headers } = await client()
    const account = dev(8)
    const raw = await signed(account)
    const hash = keccak256(raw)
    await anvil.node.saveState()
    await anvil.kill()
    try {
      const error = await refusal(c.submitTransaction(raw))
      expect([error.status, error.code]).toEqual([503, 'NODE_UNAVAILABLE'])
      expect(Number(headers().get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect((await refusal(c.getTransaction(hash))).code).toBe('TRANSACTION_NOT_FOUND')
    } finally {
      await anvil.restart()
    }
    // Sending the same bytes again once the node is back is the retry.
    const deadline = Date.now() + 20_000
    for (;;) {
      try {
        expect((await c.submitTransaction(raw)).status).toBe('pending')
        break
      } catch (error) {
        if ((error as WalletBackendError).status !== 503 || Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    await waitForStatus(c, hash, 'included')
  })
})
