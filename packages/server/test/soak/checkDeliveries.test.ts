import type { DeliveryItem, Hex } from '@wallet-backend/sdk'
import { describe, expect, it } from 'vitest'
import { checkDeliveries } from '../../soak/checkDeliveries.js'
import type { ClientRecord, ExpectedItem, ObservedItem } from '../../soak/observations.js'

const TOKEN: Hex = `0x${'11'.repeat(20)}`
const blockHash = (n: number): Hex => `0x${n.toString(16).padStart(64, '0')}`
const log = (n: number) => ({
  address: TOKEN,
  topics: [blockHash(999)],
  data: `0x${n.toString(16).padStart(2, '0')}` as Hex,
})

/** The match of block `n` (one log at index 0), as the node has it. */
function expected(n: number, hash = blockHash(n)): ExpectedItem {
  return {
    kind: 'log',
    interest: TOKEN,
    blockHash: hash,
    blockNumber: n,
    txHash: hash,
    txIndex: 0,
    logIndex: 0,
    log: log(n),
  }
}

/** The item the backend sends for `match` under `cursor`. */
function item(cursor: number, match: ExpectedItem): DeliveryItem {
  return {
    cursor,
    kind: match.kind,
    interest: match.interest,
    filterIds: [1],
    block: { number: match.blockNumber, hash: match.blockHash },
    txHash: match.txHash,
    txIndex: match.txIndex,
    logIndex: match.logIndex,
    confirmations: 1,
    final: false,
    ...(match.log ? { log: { ...match.log, logIndex: '0x0' } } : {}),
  } as DeliveryItem
}

function removed(cursor: number, removedCursor: number): DeliveryItem {
  return {
    cursor,
    kind: 'removed',
    interest: TOKEN,
    filterIds: [],
    block: null,
    txHash: null,
    txIndex: 0,
    logIndex: 0,
    confirmations: null,
    final: false,
    data: { removedCursor, removedKind: 'log', removedBlock: { number: null, hash: null } },
  }
}

const arrived = (deliveryItem: DeliveryItem, ackedBefore = 0): ObservedItem => ({
  item: deliveryItem,
  ackedBefore,
  via: 'test',
})
const record = (received: ObservedItem[]): ClientRecord => ({
  name: 'c',
  interests: [{ address: TOKEN, filter: { code: 'all', args: [] } }],
  received,
})
const counts = (check: ReturnType<typeof checkDeliveries>) => ({
  lost: check.lost,
  duplicatedAfterAck: check.duplicatedAfterAck,
  queuedTwice: check.queuedTwice,
  wrong: check.wrong,
})
const clean = { lost: 0, duplicatedAfterAck: 0, queuedTwice: 0, wrong: 0 }

describe('the soak verdict on one client', () => {
  it('passes a client that holds exactly the final chain, repeats of unacknowledged items included', () => {
    const truth = [expected(1), expected(2)]
    const check = checkDeliveries(
      record([arrived(item(1, truth[0]!)), arrived(item(1, truth[0]!)), arrived(item(2, truth[1]!), 1)]),
      truth,
    )
    expect(counts(check)).toEqual(clean)
    expect(check.received).toBe(2)
  })

  it('counts a match of the final chain never delivered as lost', () => {
    const truth = [expected(1), expected(2)]
    expect(counts(checkDeliveries(record([arrived(item(1, truth[0]!))]), truth))).toEqual({
      ...clean,
      lost: 1,
    })
  })

  it('counts an item withdrawn by a removed notice and not sent again, though still on the chain, as lost', () => {
    const truth = [expected(1)]
    const check = checkDeliveries(record([arrived(item(1, truth[0]!)), arrived(removed(2, 1))]), truth)
    expect(counts(check)).toEqual({ ...clean, lost: 1 })
  })

  it('counts an item arriving at or below a confirmed acknowledgement as duplicated after ack', () => {
    const truth = [expected(1), expected(2)]
    const check = checkDeliveries(
      record([arrived(item(1, truth[0]!)), arrived(item(2, truth[1]!), 1), arrived(item(1, truth[0]!), 1)]),
      truth,
    )
    expect(counts(check)).toEqual({ ...clean, duplicatedAfterAck: 1 })
  })

  it('counts the same match under a second cursor as queued twice, unless a removed notice came between', () => {
    const truth = [expected(1)]
    const twice = checkDeliveries(record([arrived(item(1, truth[0]!)), arrived(item(2, truth[0]!))]), truth)
    expect(counts(twice)).toEqual({ ...clean, queuedTwice: 1 })
    // The block left the chain and came back: told, then sent again.
    const backAgain = checkDeliveries(
      record([arrived(item(1, truth[0]!)), arrived(removed(2, 1)), arrived(item(3, truth[0]!))]),
      truth,
    )
    expect(counts(backAgain)).toEqual(clean)
  })

  it('counts an item of an abandoned block that was never withdrawn as wrong, and accepts it once withdrawn', () => {
    const abandoned = expected(1, blockHash(0xdead))
    const canonical = expected(1)
    const kept = checkDeliveries(record([arrived(item(1, abandoned)), arrived(item(2, canonical))]), [
      canonical,
    ])
    expect(counts(kept)).toEqual({ ...clean, wrong: 1 })
    const withdrawn = checkDeliveries(
      record([arrived(item(1, abandoned)), arrived(removed(2, 1)), arrived(item(3, canonical))]),
      [canonical],
    )
    expect(counts(withdrawn)).toEqual(clean)
  })

  it('accepts a live match below the first block of a client (a node that lost blocks mined new ones there), not a back-filled one', () => {
    const below = expected(3)
    const from5 = { ...record([arrived(item(1, below)), arrived(item(2, expected(5)))]), matchedFrom: 5 }
    // Held, on the final chain, delivered live: fine; not required either.
    expect(counts(checkDeliveries(from5, [expected(5)], [], [below]))).toEqual(clean)
    expect(
      counts(checkDeliveries({ ...from5, received: from5.received.slice(1) }, [expected(5)], [], [below])),
    ).toEqual(clean)
    // Without it on the final chain, or back-filled (history below what was asked for): wrong.
    expect(counts(checkDeliveries(from5, [expected(5)], [], []))).toEqual({ ...clean, wrong: 1 })
    const backfilled = { ...item(1, below), data: { backfill: true } } as DeliveryItem
    const history = { ...from5, received: [arrived(backfilled), arrived(item(2, expected(5)))] }
    expect(counts(checkDeliveries(history, [expected(5)], [], [below]))).toEqual({ ...clean, wrong: 1 })
  })

  it('counts other contents than the node has, a reused cursor and an unexpected kind as wrong', () => {
    const truth = [expected(1), expected(2)]
    const otherData = item(1, truth[0]!)
    if (otherData.kind === 'log') otherData.log = { ...otherData.log!, data: '0xff' }
    expect(counts(checkDeliveries(record([arrived(otherData), arrived(item(2, truth[1]!))]), truth))).toEqual(
      {
        ...clean,
        wrong: 1,
      },
    )
    const reused = checkDeliveries(
      record([arrived(item(1, truth[0]!)), arrived(item(1, truth[1]!)), arrived(item(2, truth[1]!))]),
      truth,
    )
    expect(reused.wrong).toBe(1)
    const gap: DeliveryItem = { ...removed(3, 0), kind: 'gap', data: { fromBlock: 1, toBlock: 2 } }
    const unexpected = checkDeliveries(
      record([arrived(item(1, truth[0]!)), arrived(item(2, truth[1]!)), arrived(gap)]),
      truth,
    )
    expect(counts(unexpected)).toEqual({ ...clean, wrong: 1 })
  })
})
