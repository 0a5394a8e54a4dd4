import type { TestAnvil } from './anvil.js'

const TOPIC = 'aa'.repeat(32)
/** Init code of a contract whose every call emits one log (LOG1 with a fixed topic, no data). */
const LOGGER_INIT = `0x6025600a5f3960255ff37f${TOPIC}5f5fa100`

/** Deploys `init` (from the first account unless told otherwise) and returns the contract's address. */
export async function deploy(anvil: TestAnvil, init: string, from?: `0x${string}`): Promise<`0x${string}`> {
  const sender = from ?? (await anvil.accounts())[0]
  const hash = await anvil.rpc<string>('eth_sendTransaction', [{ from: sender, data: init }])
  await waitForReceipt(anvil, hash)
  return (await anvil.rpc<{ contractAddress: `0x${string}` }>('eth_getTransactionReceipt', [hash]))
    .contractAddress
}

/** Deploys the log-emitting contract and returns its address. */
export function deployLogger(anvil: TestAnvil): Promise<`0x${string}`> {
  return deploy(anvil, LOGGER_INIT)
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

const TRANSFER = 'ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
/**
 * Init code of a token-shaped contract: every call with calldata (address to, uint256 amount)
 * emits the ERC-20 event Transfer(msg.sender, to, amount) — the log wallets watch tokens by.
 */
export const TRANSFER_EMITTER_INIT =
  `0x602f600a5f39602f5ff3602060205f375f35337f${TRANSFER}60205fa300` as const

export function deployTransferEmitter(anvil: TestAnvil, from?: `0x${string}`): Promise<`0x${string}`> {
  return deploy(anvil, TRANSFER_EMITTER_INIT, from)
}

/** Sends `amount` of a transfer-emitting token from `from` to `to` (one block with automine). */
export async function sendTransfer(
  anvil: TestAnvil,
  token: `0x${string}`,
  from: `0x${string}`,
  to: `0x${string}`,
  amount: bigint,
): Promise<string> {
  const data = `0x${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`
  const hash = await anvil.rpc<string>('eth_sendTransaction', [{ from, to: token, data }])
  await waitForReceipt(anvil, hash)
  return hash
}

/** anvil's automine can answer eth_sendTransaction before the block is there: wait for the receipt. */
export async function waitForReceipt(anvil: TestAnvil, hash: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await anvil.rpc('eth_getTransactionReceipt', [hash])) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`transaction ${hash} was not mined`)
}

/**
 * Init code of an NFT-shaped contract: every call with calldata (address to, uint256 tokenId)
 * emits the ERC-721 event Transfer(msg.sender, to, tokenId) — all three indexed, no data.
 */
export const NFT_TRANSFER_EMITTER_INIT = `0x602b600a5f39602b5ff36020355f35337f${TRANSFER}5f5fa400` as const

export function deployNftEmitter(anvil: TestAnvil): Promise<`0x${string}`> {
  return deploy(anvil, NFT_TRANSFER_EMITTER_INIT)
}
