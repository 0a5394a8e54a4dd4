import {
  ProofVerificationError,
  type Receipt,
  verifyAccountProof,
  verifyBlockHeader,
  verifyReceiptProof,
  type WalletBackendError,
} from '@wallet-backend/sdk'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import {
  deploy,
  deployTransferEmitter,
  STORE_INIT,
  sendTransfer,
  waitForReceipt,
  word,
} from '../support/chainActivity.js'

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
  })
})
