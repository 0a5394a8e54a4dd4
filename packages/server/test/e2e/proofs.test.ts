import {
  type DeliveryItem,
  type DeliveryItemOf,
  ProofVerificationError,
  type Receipt,
  verifyAccountProof,
  verifyBlockHeader,
  verifyReceiptProof,
  verifyTransactionProof,
  type WalletBackendError,
} from '@wallet-backend/sdk'
import { type Hex, parseTransaction, serializeTransaction } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import {
  deploy,
  deployTransferEmitter,
  mineTransactionTypes,
  STORE_INIT,
  sendTransfer,
  waitForReceipt,
  word,
} from '../support/chainActivity.js'
import { startFaultyNode } from '../support/faultyNode.js'

let anvil: TestAnvil
let backend: TestBackend
let accounts: Hex[]

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = await anvil.accounts()
  backend = await startBackend(anvil)
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

const atLeast = (c: ReturnType<TestBackend['client']>, n: number) => backend.atLeast(c, n)

const code = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: ProofVerificationError | WalletBackendError) => error.code,
  )

describe('proofs a client checks instead of trusting the backend (on anvil)', () => {
  it('proves log items against receiptsRoot, in a block of many transactions', async () => {
    const token = await deployTransferEmitter(anvil)
    await backend.synced()
    const c = backend.client()
    await c.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
    // 40 transactions in one block: the receipts trie has branch and extension nodes.
    await anvil.rpc('evm_setAutomine', [false])
    const data = `${word(accounts[1]!)}${word(5n).slice(2)}` as Hex
    for (let i = 0; i < 40; i++) {
      const from = accounts[i % accounts.length]!
      await anvil.rpc('eth_sendTransaction', [
        { from, to: i % 3 === 0 ? token : accounts[9], data, value: '0x1' },
      ])
    }
    await anvil.rpc('evm_mine')
    await anvil.rpc('evm_setAutomine', [true])
    await backend.synced()
    const items = await atLeast(c, 14)
    expect(items.map((i) => i.kind)).toEqual(Array(14).fill('log'))
    for (const item of items) {
      const header = await c.verifyItem(item)
      expect(header.hash).toBe(item.block!.hash)
    }
  })

  it('proves balance and slot values of state items against stateRoot', async () => {
    const store = await deploy(anvil, STORE_INIT)
    await waitForReceipt(
      anvil,
      await anvil.rpc('eth_sendTransaction', [{ from: accounts[0], to: store, data: word(42n) }]),
    )
    await waitForReceipt(
      anvil,
      await anvil.rpc('eth_sendTransaction', [{ from: accounts[0], to: store, value: '0x7' }]),
    )
    await backend.synced()
    const c = backend.client()
    await c.putInterest(store, {
      filters: [],
      watches: [
        { kind: 'balance', args: [] },
        { kind: 'slot', args: ['0x0'] },
        { kind: 'nonce', args: [] },
        { kind: 'call', args: ['0x6d4ce63c'] },
      ],
    })
    const items = await atLeast(c, 4)
    expect(items.map((i) => i.kind)).toEqual(['state', 'state', 'state', 'state'])
    for (const item of items.slice(0, 3)) await c.verifyItem(item)
    expect(await code(c.verifyItem(items[3]!))).toBe('NOT_PROVABLE')
  })

  it('catches a doctored header, receipt, proof node or account field', async () => {
    const token = await deployTransferEmitter(anvil)
    const hash = await sendTransfer(anvil, token, accounts[0]!, accounts[2]!, 9n)
    await backend.synced()
    const c = backend.client()
    await c.putInterest(token, { filters: [] })
    const receipt = await anvil.rpc<{ blockHash: Hex; transactionIndex: Hex }>('eth_getTransactionReceipt', [
      hash,
    ])
    const { header } = await c.block(receipt.blockHash)
    expect(verifyBlockHeader(header, receipt.blockHash).hash).toBe(receipt.blockHash)
    expect(() => verifyBlockHeader({ ...header, gasUsed: '0x1' }, receipt.blockHash)).toThrow(
      ProofVerificationError,
    )

    const index = Number(receipt.transactionIndex)
    const proof = await c.receiptProof(receipt.blockHash, index)
    const base = { receiptsRoot: header.receiptsRoot, index, receipt: proof.receipt, proof: proof.proof }
    await verifyReceiptProof(base)
    const forged: Receipt = {
      ...proof.receipt,
      logs: proof.receipt.logs.map((log) => ({ ...log, data: word(1_000_000n) })),
    }
    expect(await code(verifyReceiptProof({ ...base, receipt: forged }))).toBe('VALUE_MISMATCH')
    const bent = proof.proof.map((node, i) => (i === 0 ? (`${node.slice(0, -2)}00` as Hex) : node))
    expect(await code(verifyReceiptProof({ ...base, proof: bent }))).toBe('RECEIPT_PROOF_INVALID')
    expect(await code(verifyReceiptProof({ ...base, index: index + 1 }))).toMatch(
      /RECEIPT_PROOF_INVALID|VALUE_MISMATCH/,
    )

    const state = await c.stateProof(token, receipt.blockHash)
    expect((await verifyAccountProof(header.stateRoot, state.proof)).codeHash).toBe(state.proof.codeHash)
    const richer = { ...state.proof, balance: '0xde0b6b3a7640000' as Hex }
    expect(await code(verifyAccountProof(header.stateRoot, richer))).toBe('VALUE_MISMATCH')
  })

  it('proves transactions of every type in one block, and the sender, value and input of tx items', async () => {
    const store = await deploy(anvil, STORE_INIT)
    await backend.synced()
    const c = backend.client()
    await c.putInterest(store, { filters: [{ code: 'all', args: [] }] })
    const mined = await mineTransactionTypes(anvil, store)
    await backend.synced()
    const { header } = await c.block(mined.blockHash)
    verifyBlockHeader(header, mined.blockHash)
    const byHash = new Map(mined.txs.map((tx) => [tx.hash, tx]))
    const types = new Set<string>()
    for (let index = 0; index < mined.txs.length; index++) {
      const proof = await c.transactionProof(mined.blockHash, index)
      expect(proof.transactionsRoot).toBe(header.transactionsRoot)
      const proven = await verifyTransactionProof(header, proof)
      const sent = byHash.get(proven.hash)
      expect(sent, `index ${index}`).toBeDefined()
      expect(proven.from?.toLowerCase()).toBe(sent!.from)
      expect(proven.transaction.type).toBe(sent!.type)
      expect(proven.transaction.to?.toLowerCase()).toBe(store)
      types.add(proven.transaction.type!)
    }
    expect(types).toEqual(new Set(['legacy', 'eip2930', 'eip1559', 'eip4844', 'eip7702']))

    const items = (await atLeast(c, mined.txs.length)).filter((item) => item.block?.hash === mined.blockHash)
    expect(items.map((item) => item.kind)).toEqual(Array(mined.txs.length).fill('tx'))
    for (const item of items) expect((await c.verifyItem(item)).hash).toBe(mined.blockHash)
    // What an item reports of its transaction is checked, not only its receipt.
    const item = items.find((i): i is DeliveryItemOf<'tx'> => i.kind === 'tx' && i.tx?.input !== '0x')!
    const lying = (tx: Record<string, unknown>): DeliveryItem => ({ ...item, tx: { ...item.tx, ...tx } })
    expect(await code(c.verifyItem(lying({ value: '0xde0b6b3a7640000' })))).toBe('VALUE_MISMATCH')
    expect(await code(c.verifyItem(lying({ from: accounts[5]!.toLowerCase() })))).toBe('VALUE_MISMATCH')
    expect(await code(c.verifyItem(lying({ input: '0x' })))).toBe('VALUE_MISMATCH')
    expect(await code(c.verifyItem(lying({ to: accounts[5]!.toLowerCase() })))).toBe('VALUE_MISMATCH')
  })

  it('catches a forged transaction, proof node, index or header', async () => {
    const store = await deploy(anvil, STORE_INIT)
    const hash = await anvil.rpc<Hex>('eth_sendTransaction', [{ from: accounts[0], to: store, value: '0x9' }])
    await waitForReceipt(anvil, hash)
    await backend.synced()
    const c = backend.client()
    const receipt = await anvil.rpc<{ blockHash: Hex; transactionIndex: Hex }>('eth_getTransactionReceipt', [
      hash,
    ])
    const { header } = await c.block(receipt.blockHash)
    const proof = await c.transactionProof(receipt.blockHash, Number(receipt.transactionIndex))
    expect((await verifyTransactionProof(header, proof)).hash).toBe(hash)

    const parsed = parseTransaction(proof.transaction)
    const richer = serializeTransaction({ ...parsed, value: 10n ** 18n } as never)
    expect(await code(verifyTransactionProof(header, { ...proof, transaction: richer }))).toBe(
      'VALUE_MISMATCH',
    )
    const bent = proof.proof.map((node, i) =>
      i === proof.proof.length - 1 ? (`${node.slice(0, -2)}00` as Hex) : node,
    )
    expect(await code(verifyTransactionProof(header, { ...proof, proof: bent }))).toBe(
      'TRANSACTION_PROOF_INVALID',
    )
    expect(await code(verifyTransactionProof(header, { ...proof, index: proof.index + 1 }))).toMatch(
      /TRANSACTION_PROOF_INVALID|VALUE_MISMATCH/,
    )
    const parent = (await c.block(header.parentHash)).header
    expect(await code(verifyTransactionProof(parent, proof))).toBe('BLOCK_HASH_MISMATCH')
  })

  it('refuses to prove from a node answer that does not rebuild the stored transactionsRoot', async () => {
    const faulty = await startFaultyNode(anvil.node.httpUrl)
    const proxied = await startBackend(anvil, { 'node-url': [faulty.url] })
    try {
      const hash = await anvil.rpc<Hex>('eth_sendTransaction', [
        { from: accounts[1], to: accounts[2], value: '0x1' },
      ])
      await waitForReceipt(anvil, hash)
      await proxied.synced()
      const { blockNumber, blockHash } = await anvil.rpc<{ blockNumber: Hex; blockHash: Hex }>(
        'eth_getTransactionReceipt',
        [hash],
      )
      const c = proxied.client()
      faulty.tamper = (message, answer) => {
        if (message.method !== 'eth_getBlockByNumber' || message.params[0] !== blockNumber) return
        ;(answer.result as { transactions: { value: Hex }[] }).transactions[0]!.value = '0x2'
        return answer
      }
      expect(await code(c.transactionProof(blockHash, 0))).toBe('NODE_DATA_INCONSISTENT')
      faulty.tamper = undefined
      expect(
        (
          await verifyTransactionProof(
            (
              await c.block(blockHash)
            ).header,
            await c.transactionProof(blockHash, 0),
          )
        ).hash,
      ).toBe(hash)
    } finally {
      await proxied.stop()
      await faulty.close()
    }
  })

  it('answers clear errors: unknown block, index out of range, not an interest, malformed', async () => {
    const c = backend.client()
    await c.signIn()
    const head = await anvil.block('latest')
    await backend.synced()
    expect(await code(c.block(`0x${'ab'.repeat(32)}`))).toBe('BLOCK_NOT_FOUND')
    expect(await code(c.block(Number(head.number) + 1_000))).toBe('BLOCK_NOT_FOUND')
    expect((await c.block(Number(head.number))).hash).toBe(head.hash)
    expect(await code(c.receiptProof(head.hash, 10_000))).toBe('INDEX_OUT_OF_RANGE')
    expect(await code(c.stateProof(accounts[3]!, head.hash))).toBe('INTEREST_NOT_FOUND')
    expect(await code(c.block('0x12' as Hex))).toBe('INVALID_REQUEST')
    expect(await code(c.receiptProof('0x12' as Hex, 0))).toBe('INVALID_REQUEST')
    expect(await code(c.transactionProof(head.hash, 10_000))).toBe('INDEX_OUT_OF_RANGE')
    expect(await code(c.transactionProof(`0x${'ab'.repeat(32)}`, 0))).toBe('BLOCK_NOT_FOUND')
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => 'no error',
        (error: WalletBackendError) => `${error.status} ${error.code}`,
      )
    for (const [block, index] of [
      ['0x12', 0],
      [head.hash, -1],
      [head.hash, 'x'],
      [head.hash, 1_000_001],
      [head.hash, undefined],
    ] as const) {
      expect(await refusal(c.transactionProof(block as Hex, index as number)), `${block} ${index}`).toBe(
        '400 INVALID_REQUEST',
      )
    }
    const anonymous = await fetch(`${backend.service.url}/v1/proofs/transaction?block=${head.hash}&index=0`)
    expect([anonymous.status, ((await anonymous.json()) as { code: string }).code]).toEqual([
      401,
      'SESSION_REQUIRED',
    ])
  })
})
