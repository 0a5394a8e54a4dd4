import {
  encodeReceipt,
  type Receipt,
  verifyBlockHeader,
  verifyReceiptProof,
  verifyTransactionProof,
} from '@wallet-backend/sdk/verify'
import { bytesToHex, fromRlp, type Hex, hexToBytes, keccak256 } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyBlock } from '../../src/chain/follower/fetchBlocks.js'
import type { RpcBlock, RpcReceipt, RpcTransaction } from '../../src/chain/types.js'
import { buildIndexedTrie } from '../../src/chain/verify/buildIndexedTrie.js'
import { buildReceiptsTrie } from '../../src/chain/verify/computeReceiptsRoot.js'
import { encodeTransaction } from '../../src/chain/verify/encodeTransaction.js'
import { InconsistentNodeDataError } from '../../src/chain/verify/InconsistentNodeDataError.js'
import { verifyTransactions } from '../../src/chain/verify/verifyTransactions.js'
import { trieProof } from '../../src/proofs/trieProof.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { waitForReceipt } from '../support/chainActivity.js'
import {
  DEPOSIT_RECEIPT_CANYON_NETWORK,
  DEPOSIT_RECEIPT_REGOLITH_NETWORK,
  OP_MAINNET_DEPOSIT,
} from './fixtures/opStack.js'

const EMPTY_BLOOM = `0x${'00'.repeat(256)}` as Hex

describe('OP-stack encodings against published vectors', () => {
  it('encodes a recorded OP Mainnet deposit to its transaction hash', () => {
    const encoded = encodeTransaction(OP_MAINNET_DEPOSIT as unknown as RpcTransaction, 'canonical')
    expect(encoded.slice(0, 4)).toBe('0x7e')
    expect(keccak256(encoded)).toBe(OP_MAINNET_DEPOSIT.hash)
    // Every field is bound by the hash: another mint or source is another transaction.
    const minted = { ...OP_MAINNET_DEPOSIT, mint: '0x1' } as unknown as RpcTransaction
    expect(keccak256(encodeTransaction(minted, 'canonical'))).not.toBe(OP_MAINNET_DEPOSIT.hash)
  })

  it('encodes Regolith and Canyon deposit receipts byte for byte', () => {
    const receipt: Receipt = {
      transactionHash: `0x${'00'.repeat(32)}`,
      transactionIndex: '0x0',
      blockHash: `0x${'00'.repeat(32)}`,
      type: '0x7e',
      status: '0x1',
      cumulativeGasUsed: '0xb741',
      logsBloom: EMPTY_BLOOM,
      logs: [],
      depositNonce: '0x3d3bbf',
    }
    // The vectors are the network form: an RLP string around the consensus encoding.
    expect(bytesToHex(encodeReceipt(receipt))).toBe(fromRlp(DEPOSIT_RECEIPT_REGOLITH_NETWORK, 'hex'))
    expect(bytesToHex(encodeReceipt({ ...receipt, depositReceiptVersion: '0x1' }))).toBe(
      fromRlp(DEPOSIT_RECEIPT_CANYON_NETWORK, 'hex'),
    )
  })

  it('leaves the L1-fee fields of OP-stack receipts out of the encoding', () => {
    const receipt: Receipt = {
      transactionHash: `0x${'00'.repeat(32)}`,
      transactionIndex: '0x1',
      blockHash: `0x${'00'.repeat(32)}`,
      type: '0x2',
      status: '0x1',
      cumulativeGasUsed: '0x10994',
      logsBloom: EMPTY_BLOOM,
      logs: [],
    }
    const withFees = {
      ...receipt,
      l1Fee: '0x1a2b',
      l1GasPrice: '0x3',
      l1GasUsed: '0x640',
      l1FeeScalar: '0.684',
    }
    expect(bytesToHex(encodeReceipt(withFees))).toBe(bytesToHex(encodeReceipt(receipt)))
  })
})

describe('OP-stack blocks from anvil in Optimism mode', () => {
  let anvil: TestAnvil
  let block: RpcBlock
  let receipts: RpcReceipt[]
  let depositor: Hex
  /** Positions in the block of the plain deposit, the minting one, the system one and the signed transaction. */
  let at: { plain: number; minting: number; system: number; signed: number }

  beforeAll(async () => {
    anvil = await startAnvil({ extraArgs: ['--optimism'] })
    const [sender, other, third] = await anvil.accounts()
    depositor = other!
    await anvil.rpc('evm_setAutomine', [false])
    const sent = [
      // A plain deposit (nothing minted, not a system transaction), as a user's L1 deposit.
      await anvil.rpc<Hex>('eth_sendTransaction', [
        {
          from: depositor,
          to: sender,
          value: '0x1234',
          type: '0x7e',
          sourceHash: `0x${'01'.repeat(32)}`,
          mint: '0x0',
          isSystemTx: false,
          gas: '0x5208',
        },
      ]),
      // A minting deposit that creates a contract which logs (PUSH 0, PUSH 0, LOG0).
      await anvil.rpc<Hex>('eth_sendTransaction', [
        {
          from: depositor,
          value: '0x5',
          type: '0x7e',
          sourceHash: `0x${'02'.repeat(32)}`,
          mint: '0xde0b6b3a7640000',
          isSystemTx: false,
          gas: '0x30000',
          input: '0x60006000a000',
        },
      ]),
      // A system deposit (since Regolith it fails, but it is in the block all the same).
      await anvil.rpc<Hex>('eth_sendTransaction', [
        {
          from: third,
          to: sender,
          type: '0x7e',
          sourceHash: `0x${'04'.repeat(32)}`,
          mint: '0x0',
          isSystemTx: true,
          gas: '0x10000',
        },
      ]),
      // An ordinary signed transaction in the same block.
      await anvil.rpc<Hex>('eth_sendTransaction', [{ from: sender, to: depositor, value: '0x7' }]),
    ]
    await anvil.rpc('evm_mine')
    for (const hash of sent) await waitForReceipt(anvil, hash)
    block = await anvil.rpc<RpcBlock>('eth_getBlockByNumber', ['latest', true])
    const [plain, minting, system, signed] = sent.map((hash) =>
      block.transactions.findIndex((tx) => tx.hash === hash),
    )
    at = { plain: plain!, minting: minting!, system: system!, signed: signed! }
    receipts = await anvil.rpc<RpcReceipt[]>('eth_getBlockReceipts', [block.hash])
  })

  afterAll(async () => {
    await anvil?.stop()
  })

  it('checks deposits and their receipts against the header like every other type', async () => {
    expect(block.transactions.map((tx) => Number(tx.type)).sort((a, b) => a - b)).toEqual([
      2, 0x7e, 0x7e, 0x7e,
    ])
    expect(receipts[at.minting]!.logs).toHaveLength(1)
    expect(block.transactions[at.system]!.isSystemTx).toBeTruthy()
    await expect(verifyBlock(block, receipts)).resolves.toBeUndefined()
    // anvil 1.7.1 panics when asked for a deposit's raw bytes: only the signed one is compared.
    const signed = block.transactions[at.signed]!
    const raw = await anvil.rpc<Hex>('eth_getRawTransactionByHash', [signed.hash])
    expect(encodeTransaction(signed, 'canonical')).toBe(raw)
  })

  it('refuses a deposit whose mint, sender, source or system flag was changed, or a changed deposit nonce', async () => {
    const changes: [string, (tx: RpcTransaction) => void][] = [
      ['mint', (tx) => (tx.mint = '0x1')],
      ['from', (tx) => (tx.from = block.transactions[at.signed]!.from)],
      ['sourceHash', (tx) => (tx.sourceHash = `0x${'03'.repeat(32)}`)],
      ['isSystemTx', (tx) => (tx.isSystemTx = true)],
    ]
    for (const [field, change] of changes) {
      const changed = structuredClone(block)
      change(changed.transactions[at.plain]!)
      expect(() => verifyTransactions(changed, block.transactionsRoot), field).toThrow(
        InconsistentNodeDataError,
      )
    }
    const nonce = structuredClone(receipts)
    ;(nonce[at.plain] as RpcReceipt & { depositNonce: Hex }).depositNonce = '0x99'
    await expect(verifyBlock(block, nonce)).rejects.toThrow(/receiptsRoot/)
  })

  it('proves a deposit and its receipt to the SDK, sender included', async () => {
    const header = verifyBlockHeader(block, block.hash)
    const leaves = verifyTransactions(block, block.transactionsRoot)
    const transactions = await buildIndexedTrie(leaves.map((leaf) => hexToBytes(leaf)))
    const proven = await verifyTransactionProof(header, {
      block: { number: Number(block.number), hash: block.hash },
      transactionsRoot: block.transactionsRoot,
      index: at.minting,
      transaction: leaves[at.minting]!,
      proof: await trieProof(transactions, at.minting),
    })
    expect(proven.hash).toBe(block.transactions[at.minting]!.hash)
    expect(proven.from?.toLowerCase()).toBe(depositor.toLowerCase())
    expect(proven.transaction).toMatchObject({ type: 'deposit', mint: 10n ** 18n, value: 5n })

    const receiptTrie = await buildReceiptsTrie(receipts)
    const receipt = receipts[at.minting]!
    await expect(
      verifyReceiptProof({
        receiptsRoot: header.receiptsRoot,
        index: at.minting,
        receipt,
        proof: await trieProof(receiptTrie, at.minting),
      }),
    ).resolves.toBe(receipt)
  })
})
