import type { Kysely, Transaction } from 'kysely'
import { bytesToHex, decodeAbiParameters, type Hex, hexToBytes, hexToString } from 'viem'
import type { NodeClient } from '../chain/NodeClient.js'
import type { DB } from '../storage/schema.js'
import type { QueueItemOf } from './DeliveryQueue.js'

/** What a token says of itself; null where it has no such function or answers nonsense. */
export type TokenInfo = { name: string | null; symbol: string | null; decimals: number | null }

/** The account activities that name a token (transfers and approvals): their first item gets its `tokenInfo`. */
type TokenActivity = Extract<QueueItemOf<'account'>['payload'], { token: Hex }>

const NAME = '0x06fdde03'
const SYMBOL = '0x95d89b41'
const DECIMALS = '0x313ce567'
const TOKENS_PER_BATCH = 100
/** Tokens kept in memory; beyond it the table answers (one indexed read per batch of tokens). */
const MEMORY_BOUND = 50_000
const MAX_TEXT = 64

/**
 * Token metadata, read from the node once per token for everyone and kept in `token_metadata`;
 * an account's first item of a token carries it (`tokenInfo`). Reads happen before a batch's
 * transaction (`prepare`), the attaching inside it, so no transaction waits on the node.
 */
export class TokenMetadata {
  readonly #db: Kysely<DB>
  readonly #node: Pick<NodeClient, 'batch'>
  readonly #known = new Map<Hex, TokenInfo>()
  /** Read from the node and not yet in the table. */
  #fresh = new Map<Hex, TokenInfo>()

  constructor(options: { db: Kysely<DB>; node: Pick<NodeClient, 'batch'> }) {
    this.#db = options.db
    this.#node = options.node
  }

  /** Makes the metadata of `tokens` known: from memory, the table, or else the node. */
  async prepare(tokens: Iterable<Hex>): Promise<void> {
    const missing = [...new Set(tokens)].filter((token) => !this.#known.has(token))
    if (missing.length === 0) return
    const stored = await this.#db
      .selectFrom('token_metadata')
      .select(['address', 'name', 'symbol', 'decimals'])
      .where(
        'address',
        'in',
        missing.map((token) => hexToBytes(token)),
      )
      .execute()
    for (const row of stored)
      this.#remember(bytesToHex(row.address), { name: row.name, symbol: row.symbol, decimals: row.decimals })
    const unread = missing.filter((token) => !this.#known.has(token))
    for (let i = 0; i < unread.length; i += TOKENS_PER_BATCH) {
      const chunk = unread.slice(i, i + TOKENS_PER_BATCH)
      const results = await this.#node.batch<Hex>(
        chunk.flatMap((token) =>
          [NAME, SYMBOL, DECIMALS].map((data) => ({
            method: 'eth_call',
            params: [{ to: token, data }, 'latest'],
          })),
        ),
      )
      chunk.forEach((token, j) => {
        const [name, symbol, decimals] = results
          .slice(j * 3, j * 3 + 3)
          .map((r) => (r.ok ? r.value : undefined))
        const info = { name: text(name), symbol: text(symbol), decimals: smallInteger(decimals) }
        this.#remember(token, info)
        this.#fresh.set(token, info)
      })
    }
  }

  /**
   * In the batch's transaction: gives `tokenInfo` to the first item of each (account, token) the
   * account never had an item of, and stores the metadata read since the last batch.
   */
  async attach(trx: Transaction<DB>, items: readonly QueueItemOf<'account'>[]): Promise<void> {
    const fresh = this.#fresh
    this.#fresh = new Map()
    if (fresh.size > 0) {
      await trx
        .insertInto('token_metadata')
        .values([...fresh].map(([token, info]) => ({ address: hexToBytes(token), ...info })))
        .onConflict((oc) => oc.doNothing())
        .execute()
    }
    const firsts = new Map<string, { item: QueueItemOf<'account'>; payload: TokenActivity }>()
    for (const item of items) {
      const { payload } = item
      if (!('token' in payload) || !item.blockHash || !this.#known.has(payload.token)) continue
      const key = `${item.clientAccountId}:${payload.token}`
      if (!firsts.has(key)) firsts.set(key, { item, payload })
    }
    if (firsts.size === 0) return
    // Only accounts still there: the index may hold one withdrawn (or pruned) a moment ago.
    const live = await trx
      .selectFrom('client_accounts')
      .select('id')
      .where('id', 'in', [...new Set([...firsts.values()].map(({ item }) => item.clientAccountId!))])
      .execute()
    const ids = new Set(live.map((row) => Number(row.id)))
    const rows = [...firsts.values()]
      .filter(({ item }) => ids.has(item.clientAccountId!))
      .map(({ item, payload }) => ({
        client_account_id: item.clientAccountId!,
        token: hexToBytes(payload.token),
        block_hash: hexToBytes(item.blockHash!),
      }))
    if (rows.length === 0) return
    const added = await trx
      .insertInto('client_account_tokens')
      .values(rows)
      .onConflict((oc) => oc.doNothing())
      .returning(['client_account_id', 'token'])
      .execute()
    for (const row of added) {
      const token = bytesToHex(row.token)
      const first = firsts.get(`${row.client_account_id}:${token}`)
      if (first) first.payload.tokenInfo = this.#known.get(token)
    }
  }

  /** A reorg took these blocks: a token first seen in them is new to its account again. */
  async forget(trx: Transaction<DB>, blockHashes: readonly Hex[]): Promise<void> {
    if (blockHashes.length === 0) return
    await trx
      .deleteFrom('client_account_tokens')
      .where(
        'block_hash',
        'in',
        blockHashes.map((hash) => hexToBytes(hash)),
      )
      .execute()
  }

  #remember(token: Hex, info: TokenInfo): void {
    if (this.#known.size >= MEMORY_BOUND) this.#known.clear()
    this.#known.set(token, info)
  }
}

/** A string return value, or a bytes32 one (older tokens), printable and bounded; null otherwise. */
function text(value: Hex | undefined): string | null {
  if (!value || value === '0x') return null
  let decoded: string
  try {
    decoded =
      value.length === 66
        ? hexToString(value).replace(/\0+$/, '')
        : decodeAbiParameters([{ type: 'string' }], value)[0]
  } catch {
    return null
  }
  const clean = decoded.replace(/[\p{Cc}\p{Cf}]/gu, '').slice(0, MAX_TEXT)
  return clean.length > 0 ? clean : null
}

function smallInteger(value: Hex | undefined): number | null {
  if (value?.length !== 66) return null
  const n = BigInt(value)
  return n <= 255n ? Number(n) : null
}
