import type { Kysely } from 'kysely'
import { bytesToHex, type Hex, hexToBytes } from 'viem'
import type { RpcBlockHeader } from '../chain/types.js'
import type { DB } from '../storage/schema.js'
import { BlockNotFoundError } from './errors.js'

export type StoredBlock = {
  number: number
  hash: Hex
  canonical: boolean
  txCount: number
  header: RpcBlockHeader
  /** False where the block was taken on the node's word (`--unknown-transaction-types trust-node`). */
  verified: boolean
}

/** A stored block by hash (any branch), or the canonical one at a number. */
export async function findStoredBlock(db: Kysely<DB>, ref: string): Promise<StoredBlock> {
  let query = db
    .selectFrom('blocks')
    .select(['number', 'hash', 'canonical', 'tx_count', 'header', 'verified'])
  query = /^0x[0-9a-fA-F]{64}$/.test(ref)
    ? query.where('hash', '=', hexToBytes(ref as Hex))
    : query.where('number', '=', Number(ref)).where('canonical', '=', true)
  const row = await query.executeTakeFirst()
  if (!row) throw new BlockNotFoundError(ref)
  return {
    number: Number(row.number),
    hash: bytesToHex(row.hash),
    canonical: row.canonical,
    txCount: row.tx_count,
    header: row.header as unknown as RpcBlockHeader,
    verified: row.verified,
  }
}
