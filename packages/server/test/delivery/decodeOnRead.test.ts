import { encodeFunctionData, hexToBytes } from 'viem'
import { expect, it } from 'vitest'
import { readDeliveries } from '../../src/delivery/deliveryStore.js'
import { describeEachDriver } from '../support/storage.js'

const CLIENT = hexToBytes(`0x${'ab'.repeat(20)}`)
const CONTRACT = `0x${'cd'.repeat(20)}` as const
const ABI = [
  { type: 'function', name: 'set', inputs: [{ name: 'value', type: 'uint256' }], outputs: [] },
] as const
const chain = { head: undefined, finalized: undefined }

describeEachDriver('reading items of an interest with an ABI', (storage) => {
  it('decodes an item queued without a decoded form once, stores it, and serves stored forms as they are', async () => {
    const { db } = storage()
    await db.insertInto('clients').values({ id: CLIENT, next_cursor: 3 }).execute()
    await db
      .insertInto('deployed_contracts')
      .values({ address: hexToBytes(CONTRACT) })
      .execute()
    const { id } = await db
      .insertInto('client_contracts')
      .values({ client_id: CLIENT, address: hexToBytes(CONTRACT), abi: JSON.stringify(ABI) })
      .returning('id')
      .executeTakeFirstOrThrow()
    const tx = (value: bigint) => ({
      hash: `0x${'11'.repeat(32)}`,
      to: CONTRACT,
      input: encodeFunctionData({ abi: ABI, functionName: 'set', args: [value] }),
    })
    const stored = { name: 'as queued', args: [] }
    await db
      .insertInto('client_deliveries')
      .values(
        [
          { tx: tx(5n) },
          // Decoded when it was queued (here with another ABI): served as it is.
          { tx: tx(6n), decoded: stored },
        ].map((payload, i) => {
          const json = JSON.stringify({ filterIds: [], ...payload })
          return {
            client_id: CLIENT,
            cursor: i + 1,
            kind: 'tx' as const,
            client_contract_id: id,
            payload: json,
            bytes: json.length,
          }
        }),
      )
      .execute()
    const read = async () =>
      (await readDeliveries(db, CLIENT, { after: 0, limit: 10, chain })).items.map((item) =>
        'decoded' in item ? item.decoded : undefined,
      )
    expect(await read()).toEqual([{ name: 'set', args: ['5'] }, stored])
    const rows = await db.selectFrom('client_deliveries').select('payload').orderBy('cursor').execute()
    expect(rows.map((row) => (row.payload as { decoded?: unknown }).decoded)).toEqual([
      { name: 'set', args: ['5'] },
      stored,
    ])
    // Decoded once: with the ABI gone, the next read serves what was stored.
    await db.updateTable('client_contracts').set({ abi: null }).execute()
    expect(await read()).toEqual([{ name: 'set', args: ['5'] }, stored])
  })
})
