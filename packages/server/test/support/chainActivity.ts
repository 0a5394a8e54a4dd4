import type { TestAnvil } from './anvil.js'

const TOPIC = 'aa'.repeat(32)
/** Init code of a contract whose every call emits one log (LOG1 with a fixed topic, no data). */
const LOGGER_INIT = `0x6025600a5f3960255ff37f${TOPIC}5f5fa100`

/** Deploys the log-emitting contract and returns its address. */
export async function deployLogger(anvil: TestAnvil): Promise<`0x${string}`> {
  const [from] = await anvil.accounts()
  const hash = await anvil.rpc<string>('eth_sendTransaction', [{ from, data: LOGGER_INIT }])
  for (let attempt = 0; attempt < 100; attempt++) {
    const receipt = await anvil.rpc<{ contractAddress: `0x${string}` } | null>('eth_getTransactionReceipt', [
      hash,
    ])
    if (receipt) return receipt.contractAddress
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`deployment ${hash} was not mined`)
}

/**
 * Mines `blocks` blocks holding `txsPerBlock` transactions each: calls to `target` (one log each)
 * and plain value transfers, from several senders.
 */
export async function mineActivity(
  anvil: TestAnvil,
  target: `0x${string}`,
  blocks: number,
  txsPerBlock = 3,
): Promise<void> {
  const accounts = await anvil.accounts()
  await anvil.rpc('evm_setAutomine', [false])
  try {
    for (let b = 0; b < blocks; b++) {
      for (let t = 0; t < txsPerBlock; t++) {
        const from = accounts[(b + t) % accounts.length]
        const to = t % 2 === 0 ? target : accounts[(b + t + 1) % accounts.length]
        await anvil.rpc('eth_sendTransaction', [{ from, to, value: '0x1' }])
      }
      await anvil.rpc('evm_mine')
    }
  } finally {
    await anvil.rpc('evm_setAutomine', [true])
  }
}
