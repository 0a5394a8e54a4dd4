import type { DeliveryItem, DeliveryItemOf } from '@wallet-backend/sdk'
import { type ClientRecord, type ExpectedItem, itemKey, matchKey } from './observations.js'

/** Judges of what is not a match of a filter: watched values, submitted transactions' statuses. */
export type HoldingJudge = (held: readonly DeliveryItem[], problem: Problem) => { expected: number }
export type Problem = (counter: 'lost' | 'wrong', text: string) => void

/** The verdict on one client (or, summed, on a run). Every count but `received` must be 0. */
export type DeliveryCheck = {
  /** Distinct cursors the client received. */
  received: number
  /** Matches on the node's final chain the client should hold. */
  expected: number
  /** `removed` notices received: how much withdrawing after delivery the run exercised. */
  removedNotices: number
  /** Expected matches missing from what the client holds. */
  lost: number
  /** Items that arrived although the server had confirmed an acknowledgement at or above their cursor. */
  duplicatedAfterAck: number
  /** The same match under a second cursor with no `removed` notice for the first. */
  queuedTwice: number
  /** Held items that the final chain does not have, or has with other contents; cursors reused; unexpected kinds. */
  wrong: number
  /** Distinct cursors received, by kind. */
  kinds: Record<string, number>
  /** The first few problems, described. */
  problems: string[]
}

const MAX_PROBLEMS = 10

function emptyCheck(expected: number): DeliveryCheck {
  return {
    received: 0,
    expected,
    removedNotices: 0,
    lost: 0,
    duplicatedAfterAck: 0,
    queuedTwice: 0,
    wrong: 0,
    kinds: {},
    problems: [],
  }
}
const MATCH_KINDS = new Set(['tx', 'log', 'account'])

/** The kinds besides matches and `removed` that a client may receive, by what it asked for. */
function otherKinds(record: ClientRecord): Set<string> {
  const kinds = new Set<string>()
  if (record.interests.some((interest) => (interest.watches ?? []).length > 0)) kinds.add('state')
  if (record.submissions) kinds.add('submitted-status')
  if (record.dormant) kinds.add('gap')
  return kinds
}

/** The fields that make an item what it is; `confirmations` and `final` change between re-sends. */
function identity(item: DeliveryItem): string {
  return JSON.stringify([
    item.kind,
    item.interest,
    item.block?.hash,
    item.txHash,
    item.txIndex,
    item.logIndex,
    item.kind === 'removed' ? item.data.removedCursor : undefined,
    item.kind === 'state' || item.kind === 'submitted-status' || item.kind === 'gap' ? item.data : null,
  ])
}

const sameActivity = (a: ExpectedItem['activity'], b: DeliveryItemOf<'account'>['data']): boolean =>
  a === undefined ||
  (a.type === b.type &&
    a.direction === ('direction' in b ? b.direction : undefined) &&
    (a.amount === undefined || a.amount === ('amount' in b ? b.amount : undefined)))

const sameLog = (a: ExpectedItem['log'], b: DeliveryItemOf<'log'>['log']): boolean =>
  a === undefined ||
  (b !== undefined &&
    a.address.toLowerCase() === b.address.toLowerCase() &&
    a.data.toLowerCase() === b.data.toLowerCase() &&
    a.topics.length === b.topics.length &&
    a.topics.every((topic, i) => topic.toLowerCase() === b.topics[i]?.toLowerCase()))

/**
 * Compares what a client received with the matches of its filters and accounts on the final chain,
 * and hands the rest of its holding to `judges`. The client's holding is every item it received,
 * minus those a later `removed` notice named (`data.removedCursor`). Matches in the blocks a `gap`
 * item names may be missing (the client was dormant); those the client holds must still be right.
 */
export function checkDeliveries(
  record: ClientRecord,
  expected: readonly ExpectedItem[],
  judges: readonly HoldingJudge[] = [],
  /**
   * The client's matches on the final chain below its first block: a node that lost blocks mines
   * new ones at those heights after the client's interest was made, and live matching rightly
   * delivers them. Held, not required; a back-filled item there is still wrong (history below
   * what was asked for).
   */
  belowFirst: readonly ExpectedItem[] = [],
): DeliveryCheck {
  const check = emptyCheck(0)
  const problem = (counter: 'lost' | 'duplicatedAfterAck' | 'queuedTwice' | 'wrong', text: string) => {
    check[counter]++
    if (check.problems.length < MAX_PROBLEMS) check.problems.push(`${record.name}: ${counter}: ${text}`)
  }

  const byCursor = new Map<number, DeliveryItem>()
  for (const { item, ackedBefore, via } of record.received) {
    if (item.cursor <= ackedBefore) {
      problem('duplicatedAfterAck', `cursor ${item.cursor} arrived (${via}) after the ack of ${ackedBefore}`)
    }
    const earlier = byCursor.get(item.cursor)
    if (!earlier) byCursor.set(item.cursor, item)
    else if (identity(earlier) !== identity(item)) {
      problem('wrong', `cursor ${item.cursor} came as ${identity(earlier)} and later as ${identity(item)}`)
    }
  }
  check.received = byCursor.size

  const removed = new Set<number>()
  const allowed = otherKinds(record)
  const gaps: { fromBlock: number; toBlock: number }[] = []
  for (const item of byCursor.values()) {
    check.kinds[item.kind] = (check.kinds[item.kind] ?? 0) + 1
    if (item.kind === 'removed' && typeof item.data?.removedCursor === 'number') {
      removed.add(item.data.removedCursor)
      check.removedNotices++
    } else if (item.kind === 'gap' && allowed.has('gap')) {
      gaps.push({ fromBlock: Number(item.data?.fromBlock), toBlock: Number(item.data?.toBlock) })
    } else if (!MATCH_KINDS.has(item.kind) && !allowed.has(item.kind)) {
      problem(
        'wrong',
        `cursor ${item.cursor} is of kind ${item.kind}, which nothing in this client's run produces`,
      )
    }
  }
  const inGap = (block: number) => gaps.some((gap) => gap.fromBlock <= block && block <= gap.toBlock)

  const cursorsByKey = new Map<string, number[]>()
  for (const item of [...byCursor.values()].sort((a, b) => a.cursor - b.cursor)) {
    if (!MATCH_KINDS.has(item.kind)) continue
    const key = itemKey(item)
    const cursors = cursorsByKey.get(key) ?? []
    const previous = cursors.at(-1)
    if (previous !== undefined && !removed.has(previous)) {
      problem('queuedTwice', `${key} under cursor ${previous} and again under ${item.cursor}`)
    }
    cursors.push(item.cursor)
    cursorsByKey.set(key, cursors)
  }

  const expectedByKey = new Map(expected.map((match) => [matchKey(match), match]))
  const liveBelowFirst = new Map(belowFirst.map((match) => [matchKey(match), match]))
  const held = new Set<string>()
  for (const item of byCursor.values()) {
    if (!MATCH_KINDS.has(item.kind) || removed.has(item.cursor)) continue
    const key = itemKey(item)
    held.add(key)
    const backfilled = Boolean('data' in item && (item.data as { backfill?: unknown } | undefined)?.backfill)
    const truth = expectedByKey.get(key) ?? (backfilled ? undefined : liveBelowFirst.get(key))
    if (!truth) {
      const where = `block ${item.block?.number}${backfilled ? ', back-filled' : ''}`
      problem(
        'wrong',
        (item.block?.number ?? 0) < (record.matchedFrom ?? 0)
          ? `cursor ${item.cursor} holds ${key} (${where}), below the client's first block ${record.matchedFrom}`
          : `cursor ${item.cursor} holds ${key} (${where}), which is not on the final chain`,
      )
    } else if (
      truth.blockNumber !== item.block?.number ||
      truth.txHash.toLowerCase() !== item.txHash?.toLowerCase() ||
      (item.kind === 'log' && !sameLog(truth.log, item.log)) ||
      (item.kind === 'account' && !sameActivity(truth.activity, item.data))
    ) {
      problem('wrong', `cursor ${item.cursor} holds ${key} with contents other than the node's`)
    }
  }
  for (const [key, match] of expectedByKey) {
    if (inGap(match.blockNumber) && !held.has(key)) continue
    check.expected++
    if (!held.has(key)) problem('lost', `${key} was never delivered (or was withdrawn and not re-sent)`)
  }
  const holding = [...byCursor.values()].filter(
    (item) => item.kind !== 'removed' && !removed.has(item.cursor),
  )
  for (const judge of judges) check.expected += judge(holding, problem).expected
  return check
}

/** The run's verdict: every client's counts added up. */
export function sumChecks(checks: readonly DeliveryCheck[]): DeliveryCheck {
  const total = emptyCheck(0)
  for (const check of checks) {
    total.received += check.received
    total.expected += check.expected
    total.removedNotices += check.removedNotices
    total.lost += check.lost
    total.duplicatedAfterAck += check.duplicatedAfterAck
    total.queuedTwice += check.queuedTwice
    total.wrong += check.wrong
    for (const [kind, count] of Object.entries(check.kinds))
      total.kinds[kind] = (total.kinds[kind] ?? 0) + count
    total.problems.push(...check.problems)
  }
  total.problems = total.problems.slice(0, MAX_PROBLEMS * 2)
  return total
}
