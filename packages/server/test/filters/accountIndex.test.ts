import { hexToBytes } from 'viem'
import { expect, it } from 'vitest'
import { AccountIndex } from '../../src/filters/AccountIndex.js'
import { describeEachDriver } from '../support/storage.js'

const ACTIVE = hexToBytes(`0x${'a1'.repeat(20)}`)
const DORMANT = hexToBytes(`0x${'d0'.repeat(20)}`)

describeEachDriver('AccountIndex.load', (storage) => {
  it('loads the accounts of dormant clients too, as the running index keeps them', async () => {
    const { db } = storage()
    await db
      .insertInto('clients')
      .values([
        { id: ACTIVE, stage: 'active' },
        { id: DORMANT, stage: 'dormant' },
      ])
      .execute()
    const activity = JSON.stringify(['native', 'tokens'])
    await db
      .insertInto('client_accounts')
      .values([
        { client_id: ACTIVE, address: hexToBytes(`0x${'11'.repeat(20)}`), activity },
        { client_id: DORMANT, address: hexToBytes(`0x${'22'.repeat(20)}`), activity },
      ])
      .execute()
    // A client dormant at start is woken later without its accounts being installed again (its
    // queue refuses items meanwhile): leaving them out here would lose its activity for good.
    expect((await AccountIndex.load(db)).size).toBe(2)
  })
})
