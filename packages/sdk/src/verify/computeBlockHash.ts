import { keccak256, toRlp } from 'viem'
import type { Hex } from '../types.js'
import { rlpQuantity as quantity } from './quantity.js'
import type { BlockHeader } from './types.js'

/**
 * keccak256 of the RLP-encoded header. Fields added by later forks (London's base fee, Shanghai's
 * withdrawals root, Cancun's blob gas and beacon root, Prague's requests hash) are appended when
 * the node returns them, which is how the header encoding itself grew.
 */
export function computeBlockHash(header: BlockHeader): Hex {
  const fields: Hex[] = [
    header.parentHash,
    header.sha3Uncles,
    header.miner,
    header.stateRoot,
    header.transactionsRoot,
    header.receiptsRoot,
    header.logsBloom,
    quantity(header.difficulty),
    quantity(header.number),
    quantity(header.gasLimit),
    quantity(header.gasUsed),
    quantity(header.timestamp),
    header.extraData,
    header.mixHash,
    header.nonce,
  ]
  const optional: [Hex | undefined, boolean][] = [
    [header.baseFeePerGas, true],
    [header.withdrawalsRoot, false],
    [header.blobGasUsed, true],
    [header.excessBlobGas, true],
    [header.parentBeaconBlockRoot, false],
    [header.requestsHash, false],
  ]
  for (const [value, isQuantity] of optional) {
    if (value === undefined) break
    fields.push(isQuantity ? quantity(value) : value)
  }
  return keccak256(toRlp(fields))
}
