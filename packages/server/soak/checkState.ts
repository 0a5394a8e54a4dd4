import type { DeliveryItem, Hex, StateChange } from '@wallet-backend/sdk'
import { numberToHex } from 'viem'
import type { HoldingJudge } from './checkDeliveries.js'
import { batchCall, batchTry, type FinalChain } from './groundTruth.js'

/** The watched values of the storage contract: slot 0 (also what `get()` returns) and its balance. */
export type StoreValues = { slot: bigint; balance: bigint }

/** The storage contract's values at every block of the final chain, with what the node could confirm. */
export type StateTruth = {
  address: Hex
  first: number
  last: number
  /** The final chain's block hashes by number. */
  hashes: ReadonlyMap<number, Hex>
  /** Values by block number, from `first - 1` to `last`. */
  values: ReadonlyMap<number, StoreValues>
  /** Blocks where a value changed whose state the node still serves (anvil forgets states across its restarts). */
  readable: ReadonlySet<number>
  /** Changed blocks the node no longer serves: the backend may have skipped them while catching up. */
  unreadable: number
}

const word = (n: bigint) => `0x${n.toString(16).padStart(64, '0')}`
export const GET_SELECTOR: Hex = '0x6d4ce63c'

/** The node's values of the storage contract at `block`. */
export async function readStore(
  nodeUrl: string,
  address: Hex,
  block: number | 'latest',
): Promise<StoreValues> {
  const tag = block === 'latest' ? block : numberToHex(block)
  const [slot, balance, call] = await batchCall<Hex>(nodeUrl, [
    { method: 'eth_getStorageAt', params: [address, '0x0', tag] },
    { method: 'eth_getBalance', params: [address, tag] },
    { method: 'eth_call', params: [{ to: address, data: GET_SELECTOR }, tag] },
  ])
  if (BigInt(call!) !== BigInt(slot!)) throw new Error(`get() at ${tag} says ${call}, slot 0 holds ${slot}`)
  return { slot: BigInt(slot!), balance: BigInt(balance!) }
}

/**
 * Replays the storage contract over the final chain from its values at `first - 1` (32 bytes of
 * calldata are stored in slot 0; ether sent stays), then asks the node: the replay must agree
 * with `eth_getStorageAt`/`eth_getBalance`/`eth_call` at the last block and at every changed
 * block whose state the node still serves.
 */
export async function stateTruth(
  nodeUrl: string,
  chain: FinalChain,
  address: Hex,
  base: StoreValues,
  first: number,
): Promise<StateTruth> {
  const succeeded = new Set(
    chain.receipts.filter((r) => r.status === '0x1').map((r) => r.transactionHash.toLowerCase()),
  )
  const hashes = new Map<number, Hex>()
  const values = new Map<number, StoreValues>([[first - 1, base]])
  let current = base
  for (const block of chain.blocks) {
    const number = Number(block.number)
    hashes.set(number, block.hash)
    for (const tx of block.transactions) {
      if (tx.to?.toLowerCase() !== address.toLowerCase() || !succeeded.has(tx.hash.toLowerCase())) continue
      current = {
        slot: tx.input.length === 66 ? BigInt(tx.input) : current.slot,
        balance: current.balance + BigInt(tx.value),
      }
    }
    values.set(number, current)
  }
  const last = first + chain.blocks.length - 1
  const atLast = await readStore(nodeUrl, address, last)
  if (atLast.slot !== current.slot || atLast.balance !== current.balance)
    throw new Error(
      `the replay of the storage contract says ${JSON.stringify(String(current.slot))} / ${current.balance} wei at block ${last}, the node ${String(atLast.slot)} / ${atLast.balance}`,
    )
  const changed = [...values.keys()].filter((n) => {
    const [before, now] = [values.get(n - 1), values.get(n)]
    return before && now && (before.slot !== now.slot || before.balance !== now.balance)
  })
  const answers = await batchTry<Hex>(
    nodeUrl,
    changed.flatMap((n) => [
      { method: 'eth_getStorageAt', params: [address, '0x0', numberToHex(n)] },
      { method: 'eth_getBalance', params: [address, numberToHex(n)] },
    ]),
  )
  const readable = new Set<number>()
  changed.forEach((n, i) => {
    const [slot, balance] = [answers[2 * i]!, answers[2 * i + 1]!]
    if (slot.result === undefined || balance.result === undefined) return
    const replayed = values.get(n)!
    if (BigInt(slot.result) !== replayed.slot || BigInt(balance.result) !== replayed.balance)
      throw new Error(`the replay of the storage contract disagrees with the node at block ${n}`)
    readable.add(n)
  })
  return { address, first, last, hashes, values, readable, unreadable: changed.length - readable.size }
}

function sameQuantity(a: string, b: string): boolean {
  try {
    return BigInt(a) === BigInt(b)
  } catch {
    return false
  }
}

/** A watch's value as the API writes it, from the contract's values. */
function watchedValue(kind: string, values: StoreValues): string {
  if (kind === 'balance') return numberToHex(values.balance)
  return word(values.slot)
}

/** A delivered value in the same form (a view call's is `{result}`). */
function deliveredValue(change: StateChange): string {
  const value = change.value as string | { result?: string }
  return String(typeof value === 'object' && value !== null ? value.result : value).toLowerCase()
}

/**
 * The judge of the storage contract's watches (`balance`, `slot` 0 and `call get()`): every held
 * `state` item of a final block's hash — nothing withdrawn stays —, the last value held for each
 * block equal to the node's there, a value held at every block (the node still serves) where the
 * watched value changed, and the last value held equal to the node's at the last block.
 */
export function stateJudge(truth: StateTruth, kinds: readonly string[]): HoldingJudge {
  return (held, problem) => {
    const mine = held.filter(
      (item) => item.kind === 'state' && item.interest?.toLowerCase() === truth.address.toLowerCase(),
    )
    let expected = 0
    for (const kind of kinds) {
      const lastByBlock = new Map<number, DeliveryItem>()
      for (const item of mine) {
        const change = item.data as StateChange
        const number = item.block?.number
        if (change.watch.kind !== kind || number === undefined || number < truth.first) continue
        if (truth.hashes.get(number)?.toLowerCase() !== item.block?.hash.toLowerCase()) {
          problem(
            'wrong',
            `state ${kind} at cursor ${item.cursor} is of block ${number} ${item.block?.hash}, not on the final chain`,
          )
          continue
        }
        const previous = lastByBlock.get(number)
        if (!previous || previous.cursor < item.cursor) lastByBlock.set(number, item)
      }
      for (const [number, item] of lastByBlock) {
        const want = watchedValue(kind, truth.values.get(number)!)
        const got = deliveredValue(item.data as StateChange)
        if (!sameQuantity(got, want))
          problem(
            'wrong',
            `state ${kind} at block ${number} (cursor ${item.cursor}) is ${got}, the node has ${want}`,
          )
      }
      // The last state item of a watch always carries its current value.
      const latest = mine
        .filter((item) => (item.data as StateChange).watch.kind === kind)
        .reduce<DeliveryItem | undefined>((a, b) => (a && a.cursor > b.cursor ? a : b), undefined)
      const now = watchedValue(kind, truth.values.get(truth.last)!)
      expected++
      if (!latest || !sameQuantity(deliveredValue(latest.data as StateChange), now))
        problem('lost', `state ${kind}: the last value held is not the node's ${now} at block ${truth.last}`)
      for (let n = truth.first; n <= truth.last; n++) {
        const [before, now] = [truth.values.get(n - 1)!, truth.values.get(n)!]
        if (watchedValue(kind, before) === watchedValue(kind, now) || !truth.readable.has(n)) continue
        expected++
        if (!lastByBlock.has(n))
          problem('lost', `state ${kind} changed at block ${n} and no value of that block is held`)
      }
    }
    return { expected }
  }
}
