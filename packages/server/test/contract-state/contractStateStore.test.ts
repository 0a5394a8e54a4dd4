import type { Hex } from 'viem'
import { hexToBytes } from 'viem'
import { expect, it } from 'vitest'
import {
  deleteStatesOfBlocks,
  insertStates,
  loadLatestValues,
  pruneStates,
  valueId,
} from '../../src/contract-state/contractStateStore.js'
import { describeEachDriver } from '../support/storage.js'

const watched = '0x00000000000000000000000000000000000000a1' as Hex
const forgotten = '0x00000000000000000000000000000000000000b2' as Hex
const hash = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`

describeEachDriver('contract_states', (storage) => {
  it('keeps the latest value, prunes exactly what is superseded below finality or no longer watched', async () => {
    const { db } = storage()
    await db
      .insertInto('deployed_contracts')
      .values({ address: hexToBytes(watched) })
      .execute()
    await db.transaction().execute((trx) =>
      insertStates(trx, [
        ...[1, 5, 9].map((n) => ({
          address: watched,
          key: 'slot:0',
          blockHash: hash(n),
          blockNumber: n,
          json: `"v${n}"`,
        })),
        { address: watched, key: 'balance', blockHash: hash(2), blockNumber: 2, json: '"0x1"' },
        { address: forgotten, key: 'balance', blockHash: hash(3), blockNumber: 3, json: '"0x2"' },
      ]),
    )
    const latest = await loadLatestValues(db)
    expect(latest.get(valueId(watched, 'slot:0'))).toEqual({ json: '"v9"', blockNumber: 9 })
    expect(latest.size).toBe(3)

    // Finalized at 7: the value of block 1 is superseded by block 5's, which no reorg can undo.
    expect(await pruneStates(db, 7)).toBe(2)
    const rows = await db
      .selectFrom('contract_states')
      .select(['address', 'watch_key', 'block_number'])
      .execute()
    expect(rows.map((r) => `${r.watch_key}@${r.block_number}`).sort()).toEqual([
      'balance@2',
      'slot:0@5',
      'slot:0@9',
    ])
    expect(await pruneStates(db, 7)).toBe(0)

    // A reorg abandons block 9: block 5's value is the latest again.
    const lost = await db.transaction().execute((trx) => deleteStatesOfBlocks(trx, [hash(9)]))
    expect(lost).toEqual([{ address: watched, key: 'slot:0' }])
    expect((await loadLatestValues(db, [watched])).get(valueId(watched, 'slot:0'))).toEqual({
      json: '"v5"',
      blockNumber: 5,
    })
  })
})
