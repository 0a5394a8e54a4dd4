import type { Kysely } from 'kysely'
import type { DB } from '../storage/schema.js'
import { type AbiDecoder, compileAbi } from './compileAbi.js'

const MAX_CACHED = 10_000

/**
 * The compiled ABIs of interests, for decoding their matches as they are queued. An ABI is read
 * and compiled once per version of its interest (`updated_at`); each batch costs one small query
 * that reads no ABI, so a replaced interest is decoded with its new ABI from its next batch on.
 */
export class InterestAbis {
  readonly #cache = new Map<number, { version: number; decoder: AbiDecoder | undefined }>()

  /** The decoders of those of `ids` whose interest has an ABI. */
  async decodersFor(db: Kysely<DB>, ids: Iterable<number>): Promise<Map<number, AbiDecoder>> {
    const wanted = [...new Set(ids)]
    const result = new Map<number, AbiDecoder>()
    if (wanted.length === 0) return result
    const versions = await db
      .selectFrom('client_contracts')
      .select(['id', 'updated_at'])
      .where('id', 'in', wanted)
      .where('abi', 'is not', null)
      .execute()
    const versionOf = new Map(versions.map((row) => [row.id, row.updated_at.getTime()]))
    const stale = [...versionOf].filter(([id, version]) => this.#cache.get(id)?.version !== version)
    if (stale.length > 0) {
      if (this.#cache.size + stale.length > MAX_CACHED) this.#cache.clear()
      const loaded = await loadDecoders(
        db,
        stale.map(([id]) => id),
      )
      for (const [id, decoder] of loaded) this.#cache.set(id, { version: versionOf.get(id)!, decoder })
    }
    for (const row of versions) {
      const decoder = this.#cache.get(row.id)?.decoder
      if (decoder) result.set(row.id, decoder)
    }
    return result
  }
}

/** Reads and compiles the ABIs of these interests (undefined for one without a usable ABI). */
export async function loadDecoders(
  db: Kysely<DB>,
  ids: readonly number[],
): Promise<Map<number, AbiDecoder | undefined>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('client_contracts').select(['id', 'abi']).where('id', 'in', ids).execute()
  return new Map(rows.map((row) => [row.id, compileAbi(row.abi)]))
}
