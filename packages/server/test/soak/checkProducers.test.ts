import type { DeliveryItem, Hex } from '@wallet-backend/sdk'
import { describe, expect, it } from 'vitest'
import { checkDeliveries } from '../../soak/checkDeliveries.js'
import { type StateTruth, stateJudge } from '../../soak/checkState.js'
import { submissionJudge } from '../../soak/checkSubmissions.js'
import type { FinalChain } from '../../soak/groundTruth.js'
import type { ClientRecord, ExpectedItem } from '../../soak/observations.js'

const STORE: Hex = `0x${'22'.repeat(20)}`
const ACCOUNT: Hex = `0x${'33'.repeat(20)}`
const hash = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`
const word = (n: bigint) => `0x${n.toString(16).padStart(64, '0')}`

// Fixtures name the fields of one kind; the union's narrowing is the backend's business, not theirs.
function item(cursor: number, fields: Record<string, unknown>): DeliveryItem {
  return {
    cursor,
    kind: 'log',
    interest: null,
    filterIds: [],
    block: null,
    txHash: null,
    txIndex: null,
    logIndex: null,
    confirmations: 1,
    final: false,
    ...fields,
  } as DeliveryItem
}
const arrived = (items: DeliveryItem[]) => items.map((i) => ({ item: i, ackedBefore: 0, via: 'test' }))
const record = (fields: Partial<ClientRecord>, items: DeliveryItem[]): ClientRecord => ({
  name: 'c',
  interests: [],
  received: arrived(items),
  ...fields,
})

describe('the soak verdict on account activity and gaps', () => {
  const match = (n: number): ExpectedItem => ({
    kind: 'account',
    interest: ACCOUNT,
    blockHash: hash(n),
    blockNumber: n,
    txHash: hash(n),
    txIndex: 0,
    logIndex: 0,
    activity: { type: 'token', direction: 'in', amount: '5' },
  })
  const accountItem = (cursor: number, n: number, amount = '5') =>
    item(cursor, {
      kind: 'account',
      block: { number: n, hash: hash(n) },
      txHash: hash(n),
      txIndex: 0,
      logIndex: 0,
      data: { type: 'token', account: ACCOUNT, direction: 'in', amount },
    })

  it('holds account items to the Transfer they stand for', () => {
    const rec = (items: DeliveryItem[]) =>
      record({ accounts: [{ address: ACCOUNT, activity: ['tokens'] }] }, items)
    expect(checkDeliveries(rec([accountItem(1, 1), accountItem(2, 2)]), [match(1), match(2)])).toMatchObject({
      lost: 0,
      wrong: 0,
    })
    expect(checkDeliveries(rec([accountItem(1, 1, '6')]), [match(1), match(2)])).toMatchObject({
      lost: 1,
      wrong: 1,
    })
  })

  it('excuses the blocks a gap names, and only for a client made dormant', () => {
    const gap = item(2, { kind: 'gap', data: { fromBlock: 2, toBlock: 3 } })
    const truth = [match(1), match(2), match(3), match(4)]
    const dormant = checkDeliveries(
      record({ dormant: true, accounts: [] }, [accountItem(1, 1), gap, accountItem(3, 4)]),
      truth,
    )
    expect(dormant).toMatchObject({ lost: 0, wrong: 0, expected: 2 })
    const beyond = checkDeliveries(record({ dormant: true }, [accountItem(1, 1), gap]), truth)
    expect(beyond.lost).toBe(1)
    const notDormant = checkDeliveries(record({}, [accountItem(1, 1), gap, accountItem(3, 4)]), truth)
    expect(notDormant).toMatchObject({ lost: 2, wrong: 1 })
  })
})

describe('the soak verdict on contract-state watches', () => {
  // Slot 0 is 0 at block 9, 7 from block 11, 8 from block 13; the node serves all but block 13.
  const values = new Map(
    [9, 10, 11, 12, 13, 14].map((n) => [n, { slot: n < 11 ? 0n : n < 13 ? 7n : 8n, balance: 0n }]),
  )
  const truth: StateTruth = {
    address: STORE,
    first: 10,
    last: 14,
    hashes: new Map([10, 11, 12, 13, 14].map((n) => [n, hash(n)])),
    values,
    readable: new Set([11]),
    unreadable: 1,
  }
  const state = (cursor: number, n: number, value: bigint, blockHash = hash(n)) =>
    item(cursor, {
      kind: 'state',
      interest: STORE,
      block: { number: n, hash: blockHash },
      data: {
        watch: { id: 1, kind: 'slot', args: ['0x0'] },
        value: word(value),
        previous: null,
        reason: 'changed',
      },
    })
  const judge = (items: DeliveryItem[]) =>
    checkDeliveries(
      record({ interests: [{ address: STORE, watches: [{ kind: 'slot', args: ['0x0'] }] }] }, items),
      [],
      [stateJudge(truth, ['slot'])],
    )

  it('passes values held where they changed, the last one current', () => {
    expect(judge([state(1, 11, 7n), state(2, 13, 8n)])).toMatchObject({ lost: 0, wrong: 0, expected: 2 })
    // Block 13 is no longer served: its change may have been compared later.
    expect(judge([state(1, 11, 7n), state(2, 14, 8n)])).toMatchObject({ lost: 0, wrong: 0 })
  })

  it('counts a change missed, a stale last value, a wrong value and a withdrawn block still held', () => {
    expect(judge([state(1, 13, 8n)]).lost).toBe(1)
    expect(judge([state(1, 11, 7n)]).lost).toBe(1)
    expect(judge([state(1, 11, 6n), state(2, 13, 8n)]).wrong).toBe(1)
    expect(judge([state(1, 11, 7n), state(2, 12, 9n, hash(0xdead)), state(3, 13, 8n)]).wrong).toBe(1)
  })
})

describe('the soak verdict on submitted transactions', () => {
  const [mined, replaced, taker, waiting] = [hash(0xa1), hash(0xa2), hash(0xa3), hash(0xa4)]
  const chain = {
    blocks: [{ number: '0x5', hash: hash(5), transactions: [] }],
    receipts: [mined, taker].map((txHash) => ({
      blockHash: hash(5),
      blockNumber: '0x5',
      transactionHash: txHash,
      status: '0x1',
    })),
  } as unknown as FinalChain
  const submissions = [
    { hash: mined, from: ACCOUNT, nonce: 0, accepted: true },
    { hash: replaced, from: ACCOUNT, nonce: 1, accepted: true },
    { hash: taker, from: ACCOUNT, nonce: 1, accepted: true },
    { hash: waiting, from: ACCOUNT, nonce: 2, accepted: true },
  ]
  const status = (cursor: number, txHash: Hex, data: Record<string, unknown>, block = true) =>
    item(cursor, {
      kind: 'submitted-status',
      txHash,
      block: block ? { number: 5, hash: hash(5) } : null,
      data,
    })
  const judge = (items: DeliveryItem[], finalized = 4) =>
    checkDeliveries(record({ submissions }, items), [], [submissionJudge(submissions, chain, finalized)])
  const right = [
    status(1, mined, { status: 'included', outcome: { success: true } }),
    status(2, replaced, { status: 'replaced', replacedBy: taker }),
    status(3, taker, { status: 'included', outcome: { success: true } }),
    status(4, waiting, { status: 'pending' }, false),
  ]

  it('passes statuses that say what the final chain holds', () => {
    expect(judge(right)).toMatchObject({ lost: 0, wrong: 0, expected: 4 })
  })

  it('counts a status missing, one the chain contradicts, and final above the finalized block', () => {
    expect(judge(right.slice(0, 3)).lost).toBe(1)
    expect(
      judge([...right, status(5, waiting, { status: 'included', outcome: { success: true } })]).wrong,
    ).toBe(1)
    expect(judge([...right, status(5, mined, { status: 'final', outcome: { success: true } })]).wrong).toBe(1)
    expect(
      judge([...right, status(5, mined, { status: 'final', outcome: { success: true } })], 5).wrong,
    ).toBe(0)
  })
})
