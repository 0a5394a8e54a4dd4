import type { Hex } from '@wallet-backend/sdk'
import type { ExpectedItem, SoakInterest } from './observations.js'

const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

type NodeLog = { address: Hex; topics: Hex[]; data: Hex; logIndex: Hex }
type NodeReceipt = {
  blockHash: Hex
  blockNumber: Hex
  transactionHash: Hex
  transactionIndex: Hex
  to: Hex | null
  contractAddress: Hex | null
  logs: NodeLog[]
}

/** The receipts of blocks `from`..`to` of the node's canonical chain, in JSON-RPC batches. */
export async function fetchReceipts(nodeUrl: string, from: number, to: number): Promise<NodeReceipt[]> {
  const receipts: NodeReceipt[] = []
  const BATCH = 100
  for (let first = from; first <= to; first += BATCH) {
    const numbers = Array.from({ length: Math.min(BATCH, to - first + 1) }, (_, i) => first + i)
    const response = await fetch(nodeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        numbers.map((n) => ({
          jsonrpc: '2.0',
          id: n,
          method: 'eth_getBlockReceipts',
          params: [`0x${n.toString(16)}`],
        })),
      ),
      signal: AbortSignal.timeout(60_000),
    })
    const answers = (await response.json()) as { id: number; result?: NodeReceipt[]; error?: unknown }[]
    for (const answer of answers.sort((a, b) => a.id - b.id)) {
      if (!answer.result)
        throw new Error(`eth_getBlockReceipts ${answer.id}: ${JSON.stringify(answer.error)}`)
      receipts.push(...answer.result)
    }
  }
  return receipts
}

const lower = (value: string | null | undefined) => value?.toLowerCase()
const paddedAddress = (address: string) => `0x${'0'.repeat(24)}${address.slice(2).toLowerCase()}`

/**
 * Whether a log matches an interest's filter, written out from the API's description of the
 * filter codes rather than taken from the server's code, so that the two can disagree.
 */
function logMatches(interest: SoakInterest, log: NodeLog): boolean {
  if (lower(log.address) !== lower(interest.address)) return false
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
    interest.filter.code === 'all' && lower(receipt.to ?? receipt.contractAddress) === lower(interest.address)
  )
}

/** Every match of `interests` in `receipts`: what a client with those interests should hold. */
export function expectedItems(
  receipts: readonly NodeReceipt[],
  interests: readonly SoakInterest[],
): ExpectedItem[] {
  const items: ExpectedItem[] = []
  for (const receipt of receipts) {
    const where = {
      blockHash: receipt.blockHash,
      blockNumber: Number(receipt.blockNumber),
      txHash: receipt.transactionHash,
      txIndex: Number(receipt.transactionIndex),
    }
    for (const interest of interests) {
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
  }
  return items
}
