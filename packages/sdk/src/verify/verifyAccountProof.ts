import { bytesToHex, fromRlp, hexToBytes, keccak256 } from 'viem'
import type { Hex } from '../types.js'
import { ProofVerificationError } from './ProofVerificationError.js'
import { provenTrieValue } from './provenTrieValue.js'
import { rlpQuantity } from './quantity.js'
import type { AccountProof } from './types.js'

const EMPTY_TRIE_ROOT = '0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421'
const EMPTY_CODE_HASH = '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'

export type VerifiedAccount = {
  balance: bigint
  nonce: bigint
  codeHash: Hex
  storageRoot: Hex
  /** Proven storage values by 32-byte slot. */
  storage: Map<Hex, bigint>
}

/** State and storage tries are keyed by the keccak of the address or slot. */
const prove = (root: Hex, key: Hex, proof: readonly Hex[], code: string): Promise<Uint8Array | null> =>
  provenTrieValue(root, hexToBytes(keccak256(key)), proof, code)

const word = (value: Hex): Hex => `0x${BigInt(value).toString(16).padStart(64, '0')}`

/**
 * Checks an EIP-1186 answer against `stateRoot` (from a verified header): the account's fields
 * and every storage value in it are then exactly the chain's at that block. An account that does
 * not exist proves as empty (zero balance and nonce, no code, empty storage).
 */
export async function verifyAccountProof(stateRoot: Hex, answer: AccountProof): Promise<VerifiedAccount> {
  const leaf = await prove(stateRoot, answer.address, answer.accountProof, 'ACCOUNT_PROOF_INVALID')
  const [nonce, balance, storageRoot, codeHash] = leaf
    ? (fromRlp(bytesToHex(leaf), 'hex') as Hex[])
    : ['0x', '0x', EMPTY_TRIE_ROOT, EMPTY_CODE_HASH]
  const claimed = [
    rlpQuantity(answer.nonce),
    rlpQuantity(answer.balance),
    answer.storageHash,
    answer.codeHash,
  ]
  const proven = [nonce, balance, storageRoot, codeHash].map((field) => (field ?? '0x').toLowerCase())
  if (claimed.some((field, i) => field.toLowerCase() !== proven[i])) {
    throw new ProofVerificationError(
      'VALUE_MISMATCH',
      `the account fields of ${answer.address} differ from the proven ones`,
    )
  }
  const storage = new Map<Hex, bigint>()
  for (const slot of answer.storageProof) {
    const key = word(slot.key)
    // An empty storage trie holds nothing: every slot is zero, whatever nodes came with it.
    const value =
      storageRoot === EMPTY_TRIE_ROOT
        ? null
        : await prove(storageRoot as Hex, key, slot.proof, 'STORAGE_PROOF_INVALID')
    const raw = value ? (fromRlp(bytesToHex(value), 'hex') as Hex) : '0x'
    const provenValue = raw === '0x' ? 0n : BigInt(raw)
    if (provenValue !== BigInt(slot.value)) {
      throw new ProofVerificationError(
        'VALUE_MISMATCH',
        `slot ${key} of ${answer.address} differs from the proven value`,
      )
    }
    storage.set(key, provenValue)
  }
  return {
    balance: BigInt(answer.balance),
    nonce: BigInt(answer.nonce),
    codeHash: answer.codeHash,
    storageRoot: answer.storageHash,
    storage,
  }
}
