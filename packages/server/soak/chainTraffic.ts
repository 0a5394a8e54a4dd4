import type { Hex } from '@wallet-backend/sdk'
import type { TestAnvil } from '../test/support/anvil.js'
import { waitForReceipt } from '../test/support/chainActivity.js'
import type { Random } from './random.js'

/** The contracts and accounts traffic is made of: token-like emitters and a storage contract. */
export type TrafficPlan = { tokens: Hex[]; store: Hex; senders: Hex[]; recipients: Hex[] }

export type TrafficCounts = {
  transfers: number
  storeWrites: number
  emptyBlocks: number
  failedSteps: number
}

/** Calldata of the transfer emitters: (address to, uint256 amount). */
export function transferCalldata(to: Hex, amount: bigint): Hex {
  return `0x${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`
}

type Request = { from: Hex; to: Hex; data: Hex; value?: Hex }

/**
 * A transaction request for anvil to sign and place (as in `anvil_reorg`): mostly a transfer,
 * sometimes a write of the storage contract's slot 0, ether to it, or both (its watched values).
 */
export function trafficRequest(plan: TrafficPlan, random: Random, counts: TrafficCounts): Request {
  const from = random.pick(plan.senders)
  if (random.chance(0.8)) {
    counts.transfers++
    return {
      from,
      to: random.pick(plan.tokens),
      data: transferCalldata(random.pick(plan.recipients), BigInt(random.int(1, 1_000_000))),
    }
  }
  counts.storeWrites++
  const roll = random.next()
  const word = `0x${random
    .int(0, 2 ** 31)
    .toString(16)
    .padStart(64, '0')}` as Hex
  return {
    from,
    to: plan.store,
    data: roll < 0.8 ? word : '0x',
    ...(roll >= 0.6 ? { value: `0x${random.int(1, 1_000).toString(16)}` as Hex } : {}),
  }
}

/**
 * One step of traffic: a transaction in a block of its own, a block of several, or a run
 * of empty blocks (which lengthens the chain, so that deep reorgs have room). A step that fails
 * because the node went away is counted and dropped; the final chain is the judge of what exists.
 */
export async function trafficStep(
  anvil: TestAnvil,
  plan: TrafficPlan,
  random: Random,
  counts: TrafficCounts,
): Promise<void> {
  const roll = random.next()
  try {
    if (roll < 0.55) {
      const hash = await anvil.rpc<string>('eth_sendTransaction', [trafficRequest(plan, random, counts)])
      await waitForReceipt(anvil, hash)
    } else if (roll < 0.8) {
      const count = random.int(2, 6)
      await anvil.rpc('evm_setAutomine', [false])
      try {
        for (let i = 0; i < count; i++)
          await anvil.rpc('eth_sendTransaction', [trafficRequest(plan, random, counts)])
        await anvil.rpc('evm_mine')
      } finally {
        await anvil.rpc('evm_setAutomine', [true])
      }
    } else {
      const blocks = random.int(1, 12)
      await anvil.mine(blocks)
      counts.emptyBlocks += blocks
    }
  } catch {
    counts.failedSteps++
  }
}
