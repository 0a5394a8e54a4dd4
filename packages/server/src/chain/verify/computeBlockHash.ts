import { type Hex, keccak256, toRlp } from 'viem'
import type { RpcBlockHeader } from '../types.js'

function quantity(value: Hex): Hex {
  const trimmed = BigInt(value).toString(16)
  return trimmed === '0' ? '0x' : `0x${trimmed.length % 2 ? '0' : ''}${trimmed}`
}

/**
 * keccak256 of the RLP-encoded header. Fields added by later forks (London's base fee, Shanghai's
 * withdrawals root, Cancun's blob gas and beacon root, Prague's requests hash) are appended when
 * the node returns them, which is how the header encoding itself grew.
 */
export function computeBlockHash(header: RpcBlockHeader): Hex {
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
