import type { Hex } from 'viem'
import type { FetchedBlock } from '../chain/follower/fetchBlocks.js'

/**
 * The addresses a block visibly touched: senders, recipients, created contracts, log emitters,
 * withdrawal recipients and the fee recipient. Internal calls that emit nothing are not visible
 * here; the storage root check catches what they change.
 */
export function touchedAddresses({ block, receipts }: FetchedBlock): Set<Hex> {
  const touched = new Set<Hex>()
  const add = (address: string | null | undefined) => {
    if (address) touched.add(address.toLowerCase() as Hex)
  }
  add(block.miner)
  for (const tx of block.transactions) {
    add(tx.from)
    add(tx.to)
  }
  for (const receipt of receipts) {
    add(receipt.contractAddress)
    for (const log of receipt.logs) add(log.address)
  }
  for (const withdrawal of (block.withdrawals ?? []) as { address?: string }[]) add(withdrawal.address)
  return touched
}
