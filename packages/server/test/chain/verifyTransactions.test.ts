import fc from 'fast-check'
import { bytesToHex, type Hex, hexToBytes, keccak256 } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RpcBlock } from '../../src/chain/types.js'
import { buildIndexedTrie } from '../../src/chain/verify/buildIndexedTrie.js'
import { computeIndexedTrieRoot } from '../../src/chain/verify/computeIndexedTrieRoot.js'
import { encodeTransaction } from '../../src/chain/verify/encodeTransaction.js'
import { InconsistentNodeDataError } from '../../src/chain/verify/InconsistentNodeDataError.js'
import { verifyTransactions } from '../../src/chain/verify/verifyTransactions.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deploy, type MinedTypes, mineTransactionTypes, STORE_INIT } from '../support/chainActivity.js'

let anvil: TestAnvil
let mined: MinedTypes
let block: RpcBlock

beforeAll(async () => {
  anvil = await startAnvil()
  mined = await mineTransactionTypes(anvil, await deploy(anvil, STORE_INIT))
  block = await anvil.rpc<RpcBlock>('eth_getBlockByHash', [mined.blockHash, true])
})

afterAll(async () => {
  await anvil?.stop()
})

function refusal(verify: () => unknown): string {
  try {
    verify()
    return 'accepted'
  } catch (error) {
    return error instanceof InconsistentNodeDataError ? error.message : `other: ${error}`
  }
}

describe('transactions checked against transactionsRoot', () => {
  it('encodes every transaction type byte for byte as the node does', async () => {
    expect(block.transactions.map((tx) => tx.hash).sort()).toEqual(mined.txs.map((tx) => tx.hash).sort())
    expect(new Set(block.transactions.map((tx) => Number(tx.type)))).toEqual(new Set([0, 1, 2, 3, 4]))
    expect(block.transactions.some((tx) => tx.type === '0x0' && BigInt(tx.v as Hex) < 35n)).toBe(true)
    for (const tx of block.transactions) {
      const raw = await anvil.rpc<Hex>('eth_getRawTransactionByHash', [tx.hash])
      const canonical = encodeTransaction(tx, 'canonical')
      expect(keccak256(canonical), `type ${tx.type}`).toBe(tx.hash)
      // anvil answers a mined blob transaction in its network form, with the blob.
      if (tx.type === '0x3') expect(encodeTransaction(tx, 'pooled')).toBe(raw)
      else expect(canonical, `type ${tx.type}`).toBe(raw)
    }
  })

  it('accepts the block and returns the leaves of its root', async () => {
    const leaves = verifyTransactions(block, block.transactionsRoot)
    expect(leaves).toHaveLength(block.transactions.length)
    const trie = await buildIndexedTrie(leaves.map((leaf) => hexToBytes(leaf)))
    expect(bytesToHex(trie.root())).toBe(block.transactionsRoot)
  })

  it('computes the roots a trie built entry by entry has, for lists of any length', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 120 }), { maxLength: 300 }),
        async (values) => {
          const trie = await buildIndexedTrie(values)
          expect(computeIndexedTrieRoot(values)).toBe(bytesToHex(trie.root()))
        },
      ),
      { numRuns: 150 },
    )
  })

  it('refuses a changed transaction, one from another position, a reorder, a wrong root, an unknown type', async () => {
    const changed = structuredClone(block)
    changed.transactions[2]!.value = '0x999'
    expect(refusal(() => verifyTransactions(changed, block.transactionsRoot))).toMatch(/encodes to hash/)

    const moved = structuredClone(block)
    moved.transactions[1]!.transactionIndex = '0x0'
    expect(refusal(() => verifyTransactions(moved, block.transactionsRoot))).toMatch(/another position/)

    // Each transaction still hashes to its own hash: only the root tells the order is not the block's.
    const reordered = structuredClone(block)
    const [first, second] = reordered.transactions as [
      RpcBlock['transactions'][0],
      RpcBlock['transactions'][0],
    ]
    reordered.transactions.splice(
      0,
      2,
      { ...second, transactionIndex: '0x0' },
      { ...first, transactionIndex: '0x1' },
    )
    expect(refusal(() => verifyTransactions(reordered, block.transactionsRoot))).toMatch(/transactionsRoot/)

    expect(refusal(() => verifyTransactions(block, `0x${'11'.repeat(32)}`))).toMatch(/transactionsRoot/)

    // An Arbitrum deposit: a type this backend has no encoding for.
    const foreign = structuredClone(block)
    foreign.transactions[0]!.type = '0x64'
    expect(refusal(() => verifyTransactions(foreign, block.transactionsRoot))).toMatch(/type 0x64/)
    // A deposit without its deposit fields cannot be what the root holds.
    const deposit = structuredClone(block)
    deposit.transactions[0]!.type = '0x7e'
    expect(refusal(() => verifyTransactions(deposit, block.transactionsRoot))).toMatch(/cannot be encoded/)
  })
})
