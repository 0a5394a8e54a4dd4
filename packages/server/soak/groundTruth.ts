import type { Hex } from '@wallet-backend/sdk'
import { numberToHex } from 'viem'
import type { ClientRecord, ExpectedItem, SoakAccount, SoakInterest } from './observations.js'

const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

type NodeLog = { address: Hex; topics: Hex[]; data: Hex; logIndex: Hex }
export type NodeReceipt = {
  blockHash: Hex
  blockNumber: Hex
  transactionHash: Hex
  transactionIndex: Hex
  from: Hex
  to: Hex | null
  contractAddress: Hex | null
  status: Hex
  logs: NodeLog[]
}
export type NodeTransaction = { hash: Hex; from: Hex; to: Hex | null; input: Hex; value: Hex; nonce: Hex }
export type NodeBlock = { number: Hex; hash: Hex; transactions: NodeTransaction[] }

/** The final chain the run is judged against: blocks with their transactions, and receipts. */
export type FinalChain = { blocks: NodeBlock[]; receipts: NodeReceipt[] }

/** JSON-RPC calls in batches of 100; every answer must be a result. */
export async function batchCall<T>(
  nodeUrl: string,
  calls: readonly { method: string; params: unknown[] }[],
): Promise<T[]> {
  const results = await batchTry<T>(nodeUrl, calls)
  const failed = results.findIndex((result) => result.error !== undefined)
  if (failed >= 0) {
    const call = calls[failed]!
    throw new Error(
      `${call.method} ${JSON.stringify(call.params)}: ${JSON.stringify(results[failed]!.error)}`,
    )
  }
  return results.map((result) => result.result as T)
}

/** JSON-RPC calls in batches of 100; each answer is its result or the node's error. */
export async function batchTry<T>(
  nodeUrl: string,
  calls: readonly { method: string; params: unknown[] }[],
): Promise<{ result?: T; error?: unknown }[]> {
  const results: { result?: T; error?: unknown }[] = []
  const BATCH = 100
  for (let first = 0; first < calls.length; first += BATCH) {
    const batch = calls.slice(first, first + BATCH)
    const response = await fetch(nodeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch.map((call, i) => ({ jsonrpc: '2.0', id: i, ...call }))),
      signal: AbortSignal.timeout(60_000),
    })
    const answers = (await response.json()) as { id: number; result?: T; error?: unknown }[]
    for (const answer of answers.sort((a, b) => a.id - b.id)) {
      results.push(
        answer.result === undefined || answer.result === null
          ? { error: answer.error ?? 'no result' }
          : { result: answer.result },
      )
    }
  }
  return results
}

/** Blocks `from`..`to` of the node's canonical chain, with their transactions and receipts. */
export async function fetchFinalChain(nodeUrl: string, from: number, to: number): Promise<FinalChain> {
  const numbers = Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => numberToHex(from + i))
  const blocks = await batchCall<NodeBlock>(
    nodeUrl,
    numbers.map((n) => ({ method: 'eth_getBlockByNumber', params: [n, true] })),
  )
  const receipts = (
    await batchCall<NodeReceipt[]>(
      nodeUrl,
      numbers.map((n) => ({ method: 'eth_getBlockReceipts', params: [n] })),
    )
  ).flat()
  return { blocks, receipts }
}

const lower = (value: string | null | undefined) => value?.toLowerCase()
const paddedAddress = (address: string) => `0x${'0'.repeat(24)}${address.slice(2).toLowerCase()}`

/**
 * Whether a log matches an interest's filter, written out from the API's description of the
 * filter codes rather than taken from the server's code, so that the two can disagree.
 */
function logMatches(interest: SoakInterest, log: NodeLog): boolean {
  if (!interest.filter || lower(log.address) !== lower(interest.address)) return false
  const [topic0, from, to] = log.topics.map((topic) => topic.toLowerCase())
  const { code, args } = interest.filter
  if (code === 'all') return true
  if (code === 'logs') return topic0 === lower(args[0] as string)
  if (code === 'transfers') {
    const party = paddedAddress(args[0] as string)
    const direction = (args[1] as string | undefined) ?? 'any'
    return (
      topic0 === TRANSFER_TOPIC &&
      ((direction !== 'to' && from === party) || (direction !== 'from' && to === party))
    )
  }
  throw new Error(`the soak has no ground truth for filter code ${code}`)
}

function txMatches(interest: SoakInterest, receipt: NodeReceipt): boolean {
  return (
    interest.filter?.code === 'all' &&
    lower(receipt.to ?? receipt.contractAddress) === lower(interest.address)
  )
}

function direction(from: boolean, to: boolean): 'in' | 'out' | 'self' {
  return from && to ? 'self' : from ? 'out' : 'in'
}

/**
 * The activity of `account` in one receipt, from the API's description of `native` and `tokens`:
 * the transaction from or to it, and ERC-20-shaped Transfer logs (three topics, a 32-byte amount)
 * naming it as either party, emitted by any contract.
 */
function accountMatches(
  account: SoakAccount,
  receipt: NodeReceipt,
  where: Omit<ExpectedItem, 'kind' | 'interest' | 'logIndex'>,
): ExpectedItem[] {
  const me = lower(account.address)
  const items: ExpectedItem[] = []
  const from = lower(receipt.from) === me
  const to = lower(receipt.to ?? receipt.contractAddress) === me
  if (account.activity.includes('native') && (from || to))
    items.push({
      kind: 'account',
      interest: account.address,
      ...where,
      logIndex: null,
      activity: { type: 'native', direction: direction(from, to) },
    })
  if (!account.activity.includes('tokens')) return items
  const party = paddedAddress(account.address)
  for (const log of receipt.logs) {
    const [topic0, sender, recipient] = log.topics.map((topic) => topic.toLowerCase())
    if (topic0 !== TRANSFER_TOPIC || log.topics.length !== 3 || log.data.length !== 66) continue
    if (sender !== party && recipient !== party) continue
    items.push({
      kind: 'account',
      interest: account.address,
      ...where,
      logIndex: Number(log.logIndex),
      activity: {
        type: 'token',
        direction: direction(sender === party, recipient === party),
        amount: BigInt(log.data).toString(),
      },
    })
  }
  return items
}

/**
 * Every match of the client's interests and accounts in `receipts`: what it should hold. Blocks
 * below its `matchedFrom` are left out.
 */
export function expectedItems(
  receipts: readonly NodeReceipt[],
  record: Pick<ClientRecord, 'interests' | 'accounts' | 'matchedFrom'>,
): ExpectedItem[] {
  const items: ExpectedItem[] = []
  for (const receipt of receipts) {
    const where = {
      blockHash: receipt.blockHash,
      blockNumber: Number(receipt.blockNumber),
      txHash: receipt.transactionHash,
      txIndex: Number(receipt.transactionIndex),
    }
    if (where.blockNumber < (record.matchedFrom ?? 0)) continue
    for (const interest of record.interests) {
      if (txMatches(interest, receipt))
        items.push({ kind: 'tx', interest: interest.address, ...where, logIndex: null })
      for (const log of receipt.logs) {
        if (!logMatches(interest, log)) continue
        items.push({
          kind: 'log',
          interest: interest.address,
          ...where,
          logIndex: Number(log.logIndex),
          log: { address: log.address, topics: log.topics, data: log.data },
        })
      }
    }
    for (const account of record.accounts ?? []) items.push(...accountMatches(account, receipt, where))
  }
  return items
}

/** The client's matches on the final chain below its `matchedFrom` (none when it has none). */
export function expectedBelowFirst(
  receipts: readonly NodeReceipt[],
  record: Pick<ClientRecord, 'interests' | 'accounts' | 'matchedFrom'>,
): ExpectedItem[] {
  const first = record.matchedFrom
  if (first === undefined) return []
  return expectedItems(
    receipts.filter((receipt) => Number(receipt.blockNumber) < first),
    { interests: record.interests, accounts: record.accounts },
  )
}
