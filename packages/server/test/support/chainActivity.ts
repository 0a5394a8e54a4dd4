import { type Hex, parseGwei, sha256 } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
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

/** Calldata of a transfer-emitting token's call: (address to, uint256 amount). */
export const transferCalldata = (to: `0x${string}`, amount: bigint): `0x${string}` =>
  `0x${to.slice(2).toLowerCase().padStart(64, '0')}${amount.toString(16).padStart(64, '0')}`

/** Sends `amount` of a transfer-emitting token from `from` to `to` (one block with automine). */
export async function sendTransfer(
  anvil: TestAnvil,
  token: `0x${string}`,
  from: `0x${string}`,
  to: `0x${string}`,
  amount: bigint,
): Promise<string> {
  const data = transferCalldata(to, amount)
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

/**
 * Init code of a storage contract: 32 bytes of calldata are stored in slot 0 (no log); the 4-byte
 * call `get()` returns slot 0; anything else (a plain value transfer) is accepted and does nothing.
 */
export const STORE_INIT =
  '0x601e600a5f39601e5ff336602014600f5736600414601557005b5f355f55005b5f545f5260205ff3' as const
/** `get()` of the storage contract. */
export const GET_SELECTOR = '0x6d4ce63c'
export const GET_ABI = [
  { type: 'function', name: 'get', inputs: [], outputs: [{ type: 'uint256' }], stateMutability: 'view' },
] as const

/** Init code of a relay: calldata (target, word) makes it call `target` with `word` — an internal call. */
export const RELAY_INIT = '0x6012600a5f3960125ff3602060205f375f5f60205f5f5f355af15000' as const

/** Init code of a factory: CREATE2 with its calldata as the child's init code, salt 0, value 0. */
export const CREATE2_FACTORY_INIT = '0x600a600a5f39600a5ff3365f5f375f365f5ff500' as const

export const word = (value: bigint | string): `0x${string}` =>
  `0x${(typeof value === 'bigint' ? value.toString(16) : value.slice(2).toLowerCase()).padStart(64, '0')}`

/** anvil's well-known development accounts, for transactions signed here rather than by anvil. */
export const devAccount = (index: number) =>
  mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: index })

/** A 4844 blob of zeros: its KZG commitment and proof are both the point at infinity. */
const ZERO_BLOB_SIDECAR = {
  blob: `0x${'00'.repeat(131_072)}`,
  commitment: `0xc0${'00'.repeat(47)}`,
  proof: `0xc0${'00'.repeat(47)}`,
} as const

export type MinedTypes = { blockHash: Hex; txs: { type: string; hash: Hex; from: Hex }[] }

/**
 * Mines one block holding a transaction of every type to `to`: legacy with EIP-155, legacy
 * without (v 27/28), EIP-2930 with an access list, EIP-1559 with input, EIP-4844 with one blob and
 * EIP-7702 with an authorization. The ones signed here come from development accounts 10 to 13.
 */
export async function mineTransactionTypes(anvil: TestAnvil, to: Hex): Promise<MinedTypes> {
  const accounts = await anvil.accounts()
  const chainId = Number(await anvil.rpc<Hex>('eth_chainId'))
  const nonce = async (address: Hex) =>
    Number(await anvil.rpc<Hex>('eth_getTransactionCount', [address, 'pending']))
  const fees = { maxFeePerGas: parseGwei('20'), maxPriorityFeePerGas: parseGwei('1') }
  const txs: MinedTypes['txs'] = []
  const send = async (type: string, from: Hex, hash: Promise<Hex>) => {
    txs.push({ type, from: from.toLowerCase() as Hex, hash: await hash })
  }
  const signed = async (account: ReturnType<typeof devAccount>, tx: Record<string, unknown>) => {
    const raw = await account.signTransaction({
      to,
      chainId,
      nonce: await nonce(account.address),
      ...tx,
    } as Parameters<typeof account.signTransaction>[0])
    await send(String(tx.type), account.address, anvil.rpc('eth_sendRawTransaction', [raw]))
  }
  const unprotected = devAccount(10)
  const blobSender = devAccount(11)
  const delegating = devAccount(12)
  const authority = devAccount(13)
  // anvil funds only the first ten development accounts.
  for (const account of [unprotected, blobSender, delegating]) {
    await anvil.rpc('anvil_setBalance', [account.address, '0x56bc75e2d63100000'])
  }
  await anvil.rpc('evm_setAutomine', [false])
  try {
    await send(
      'legacy',
      accounts[0]!,
      anvil.rpc('eth_sendTransaction', [
        { from: accounts[0], to, value: '0x11', gasPrice: '0x4a817c800', type: '0x0', data: word(7n) },
      ]),
    )
    // No chain id: signed before EIP-155, v is 27 or 28.
    await signed(unprotected, {
      type: 'legacy',
      chainId: undefined,
      value: 2n,
      gas: 60_000n,
      gasPrice: parseGwei('20'),
    })
    await send(
      'eip2930',
      accounts[1]!,
      anvil.rpc('eth_sendTransaction', [
        {
          from: accounts[1],
          to,
          value: '0x3',
          gasPrice: '0x4a817c800',
          type: '0x1',
          accessList: [{ address: to, storageKeys: [word(0n), word(1n)] }],
        },
      ]),
    )
    await send(
      'eip1559',
      accounts[2]!,
      anvil.rpc('eth_sendTransaction', [{ from: accounts[2], to, value: '0x4', data: '0xdeadbeef' }]),
    )
    await signed(blobSender, {
      type: 'eip4844',
      value: 5n,
      gas: 100_000n,
      ...fees,
      maxFeePerBlobGas: parseGwei('20'),
      blobVersionedHashes: [`0x01${sha256(ZERO_BLOB_SIDECAR.commitment).slice(4)}`],
      sidecars: [ZERO_BLOB_SIDECAR],
    })
    const authorization = await authority.signAuthorization!({
      chainId,
      address: to,
      nonce: await nonce(authority.address),
    })
    await signed(delegating, {
      type: 'eip7702',
      value: 6n,
      gas: 200_000n,
      ...fees,
      authorizationList: [authorization],
    })
    await anvil.rpc('evm_mine')
  } finally {
    await anvil.rpc('evm_setAutomine', [true])
  }
  const receipt = await anvil.rpc<{ blockHash: Hex }>('eth_getTransactionReceipt', [txs[0]!.hash])
  return { blockHash: receipt.blockHash, txs }
}
