import type { Hex } from '@wallet-backend/sdk'
import type { TestAnvil } from '../test/support/anvil.js'
import { waitForReceipt } from '../test/support/chainActivity.js'
import type { Random } from './random.js'

/** The contracts and accounts traffic is made of. */
export type TrafficPlan = { tokens: Hex[]; senders: Hex[]; recipients: Hex[] }

export type TrafficCounts = { transfers: number; emptyBlocks: number; failedSteps: number }

/** Calldata of the transfer emitters: (address to, uint256 amount). */
export function transferCalldata(to: Hex, amount: bigint): Hex {
  return `0x${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`
}

/** A transfer as a transaction request, for anvil to sign and place (as in `anvil_reorg`). */
export function transferRequest(plan: TrafficPlan, random: Random): { from: Hex; to: Hex; data: Hex } {
  return {
    from: random.pick(plan.senders),
    to: random.pick(plan.tokens),
    data: transferCalldata(random.pick(plan.recipients), BigInt(random.int(1, 1_000_000))),
  }
}

/**
 * One step of traffic: a transfer in a block of its own, a block of several transfers, or a run
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
      const hash = await anvil.rpc<string>('eth_sendTransaction', [transferRequest(plan, random)])
      await waitForReceipt(anvil, hash)
      counts.transfers++
    } else if (roll < 0.8) {
      const count = random.int(2, 6)
      await anvil.rpc('evm_setAutomine', [false])
      try {
        for (let i = 0; i < count; i++)
          await anvil.rpc('eth_sendTransaction', [transferRequest(plan, random)])
        await anvil.rpc('evm_mine')
        counts.transfers += count
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
