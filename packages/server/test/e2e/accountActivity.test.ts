import {
  type AccountActivity,
  accountActivityOf,
  type DeliveryItem,
  type DeliveryItemOf,
  type WalletBackendClient,
  type WalletBackendError,
} from '@wallet-backend/sdk'
import type { Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  callContract,
  deployTestContract,
  sendEther,
  type TestContract,
} from '../support/accountActivityContracts.js'
import { accountTruth, activityKey } from '../support/accountTruth.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let backend: TestBackend
let accounts: Hex[]
let erc20: TestContract
let erc721: TestContract
let erc1155: TestContract
let entryPoint: TestContract
/** The client of the first test, live on the wallet accounts[1] since before its activity. */
let alice: WalletBackendClient

const ZERO = '0x0000000000000000000000000000000000000000'
const keyOf = (item: DeliveryItem) => activityKey(item.block!.number, item.txIndex!, item.logIndex)
const typeOf = (item: DeliveryItem) => accountActivityOf(item)!.type

/** The account items still standing: those no `removed` notice took back. */
function standing(items: DeliveryItem[]): DeliveryItem[] {
  const removed = new Set(items.filter((i) => i.kind === 'removed').map((i) => i.data!.removedCursor))
  return items.filter((i) => i.kind === 'account' && !removed.has(i.cursor))
}

beforeAll(async () => {
  anvil = await startAnvil()
  accounts = (await anvil.accounts()).map((a) => a.toLowerCase() as Hex)
  // Back-fills may cover 500 blocks at once: far more than this chain, less than the sum of two from 0 later on.
  backend = await startBackend(anvil, {
    'max-accounts-per-client': '2',
    'max-backfill-blocks-per-client': '500',
  })
  // One after the other: they share a sender, whose nonces must not collide.
  erc20 = await deployTestContract(anvil, 'TestERC20')
  erc721 = await deployTestContract(anvil, 'TestERC721')
  erc1155 = await deployTestContract(anvil, 'TestERC1155')
  entryPoint = await deployTestContract(anvil, 'TestEntryPoint')
})

afterAll(async () => {
  await backend?.stop()
  await anvil?.stop()
})

describe('account interests (on anvil, with compiled token contracts)', () => {
  it('delivers everything that touches a wallet in tokens it never named, as the node reports it', async () => {
    const [minter, wallet, other, stranger] = accounts as [Hex, Hex, Hex, Hex]
    await backend.synced()
    alice = backend.client()
    const bob = backend.client()
    await Promise.all([alice.signIn(), bob.signIn()])
    expect(await alice.putAccount(wallet)).toMatchObject({
      address: wallet,
      activity: ['native', 'tokens', 'approvals', 'userOps'],
    })
    // bob follows only the native transactions of another address: he must see none of the wallet's tokens.
    await bob.putAccount(other, { activity: ['native'] })
    const from = (await anvil.blockNumber()) + 1

    await callContract(anvil, erc20, minter, 'mint', [wallet, 1_000_000n])
    await callContract(anvil, erc20, wallet, 'transfer', [other, 250_000n])
    await callContract(anvil, erc721, minter, 'mint', [wallet, 7n])
    await callContract(anvil, erc721, wallet, 'transferFrom', [wallet, other, 7n])
    await callContract(anvil, erc1155, minter, 'mint', [wallet, 1n, 10n])
    await callContract(anvil, erc1155, minter, 'mint', [other, 2n, 5n])
    await callContract(anvil, erc1155, other, 'safeTransferFrom', [other, wallet, 2n, 4n, '0x'])
    await callContract(anvil, erc1155, wallet, 'safeBatchTransferFrom', [
      wallet,
      other,
      [1n, 2n],
      [3n, 1n],
      '0x',
    ])
    await sendEther(anvil, minter, wallet, 10n ** 18n)
    await sendEther(anvil, wallet, other, 12345n)
    await callContract(anvil, erc20, wallet, 'approve', [other, 500n])
    await callContract(anvil, erc721, wallet, 'setApprovalForAll', [other, true])
    // Approvals the wallet is the spender of are not its own: not delivered.
    await callContract(anvil, erc20, stranger, 'approve', [wallet, 9n])
    // A user operation of the wallet, whose call mints it tokens inside the EntryPoint's transaction.
    const mintCall = (await import('viem')).encodeFunctionData({
      abi: erc20.abi,
      functionName: 'mint',
      args: [wallet, 42n],
    })
    await callContract(anvil, entryPoint, minter, 'handleOp', [wallet, 3n, erc20.address, mintCall])
    // Activity of others only.
    await callContract(anvil, erc20, minter, 'mint', [stranger, 1n])
    await backend.synced()
    const to = await anvil.blockNumber()

    const items = (await backend.everything(alice)).filter((i) => i.kind === 'account')
    const truth = await accountTruth(anvil, wallet, from, to)
    expect(items.map((i) => ({ key: keyOf(i), type: typeOf(i) }))).toEqual(truth)
    expect(truth.filter((t) => t.type === 'token')).toHaveLength(8)
    expect(truth.filter((t) => t.type === 'approval')).toHaveLength(2)
    expect(truth.filter((t) => t.type === 'userOp')).toHaveLength(1)
    expect(truth.filter((t) => t.type === 'native')).toHaveLength(7)
    for (const item of items) {
      const header = await anvil.block(item.block!.number)
      expect(item.block!.hash).toBe(header.hash)
      expect(item.data!.account).toBe(wallet)
    }

    const activity = items.map((i) => accountActivityOf(i)!)
    const tokens = activity.filter(
      (a): a is Extract<AccountActivity, { type: 'token' }> => a.type === 'token',
    )
    expect(tokens[0]).toEqual({
      account: wallet,
      type: 'token',
      standard: 'erc20',
      token: erc20.address.toLowerCase(),
      direction: 'in',
      counterparty: ZERO,
      amount: '1000000',
      tokenInfo: { name: 'Test Dollar', symbol: 'TUSD', decimals: 6 },
    })
    // The metadata comes with an account's first item of each token only, read once for everyone.
    expect(
      tokens.filter((t) => 'tokenInfo' in t).map((t) => [t.token, (t as { tokenInfo: unknown }).tokenInfo]),
    ).toEqual([
      [erc20.address.toLowerCase(), { name: 'Test Dollar', symbol: 'TUSD', decimals: 6 }],
      [erc721.address.toLowerCase(), { name: 'Test Cats', symbol: 'TCAT', decimals: null }],
      [erc1155.address.toLowerCase(), { name: null, symbol: null, decimals: null }],
    ])
    const stored = await backend.service
      .storage!.db.selectFrom('token_metadata')
      .select(['address', 'name'])
      .execute()
    expect(stored.map((row) => String(row.name)).sort()).toEqual(['Test Cats', 'Test Dollar', 'null'])
    expect(tokens[1]).toMatchObject({
      standard: 'erc20',
      direction: 'out',
      counterparty: other,
      amount: '250000',
    })
    expect(tokens[3]).toMatchObject({
      standard: 'erc721',
      direction: 'out',
      counterparty: other,
      tokenId: '7',
    })
    expect(tokens[5]).toMatchObject({
      standard: 'erc1155',
      token: erc1155.address.toLowerCase(),
      direction: 'in',
      counterparty: other,
      operator: other,
      tokenId: '2',
      amount: '4',
    })
    expect(tokens[6]).toMatchObject({
      standard: 'erc1155',
      direction: 'out',
      tokenIds: ['1', '2'],
      amounts: ['3', '1'],
    })
    expect(tokens[7]).toMatchObject({ standard: 'erc20', direction: 'in', amount: '42' })
    expect(activity.filter((a) => a.type === 'approval')).toEqual([
      {
        account: wallet,
        type: 'approval',
        standard: 'erc20',
        token: erc20.address.toLowerCase(),
        spender: other,
        amount: '500',
      },
      {
        account: wallet,
        type: 'approval',
        standard: 'approvalForAll',
        token: erc721.address.toLowerCase(),
        spender: other,
        approved: true,
      },
    ])
    expect(activity.find((a) => a.type === 'userOp')).toMatchObject({
      entryPoint: entryPoint.address.toLowerCase(),
      paymaster: ZERO,
      nonce: '3',
      success: true,
    })
    const native = activity.filter((a) => a.type === 'native')
    expect(native).toContainEqual({
      account: wallet,
      type: 'native',
      direction: 'in',
      counterparty: minter,
      value: (10n ** 18n).toString(),
      success: true,
    })
    expect(native).toContainEqual({
      account: wallet,
      type: 'native',
      direction: 'out',
      counterparty: other,
      value: '12345',
      success: true,
    })

    // Every item is proven against its block: the log in the receipts root, the transaction in the transactions root.
    for (const item of items) await alice.verifyItem(item)
    const erc20Out = items.find((i) => i.data!.type === 'token' && i.data!.direction === 'out')!
    const tampered = { ...erc20Out, data: { ...erc20Out.data, amount: '250001' } }
    await expect(alice.verifyItem(tampered)).rejects.toMatchObject({ code: 'VALUE_MISMATCH' })
    const nativeIn = items.find((i) => i.data!.type === 'native' && i.data!.direction === 'in')!
    const inflated = { ...nativeIn, data: { ...nativeIn.data, value: '2000000000000000000' } }
    await expect(alice.verifyItem(inflated)).rejects.toMatchObject({ code: 'VALUE_MISMATCH' })

    // bob: exactly the transactions from or to his address, nothing of the wallet's tokens.
    const bobItems = (await backend.everything(bob)).filter((i) => i.kind === 'account')
    const bobTruth = (await accountTruth(anvil, other, from, to)).filter((t) => t.type === 'native')
    expect(bobItems.map((i) => ({ key: keyOf(i), type: typeOf(i) }))).toEqual(bobTruth)
    expect(bobTruth.length).toBeGreaterThan(0)
    expect(bobItems.every((i) => i.data!.account === other)).toBe(true)
    // Isolation: another client's accounts are neither listed nor deletable.
    expect((await bob.listAccounts()).map((a) => a.address)).toEqual([other])
    const foreign = await bob.deleteAccount(wallet).catch((e: WalletBackendError) => e)
    expect(foreign).toMatchObject({ status: 404, code: 'ACCOUNT_NOT_FOUND' })
    expect((await alice.listAccounts()).map((a) => a.address)).toEqual([wallet])
  })

  it('back-fills the same history from block 0, by blocks and by eth_getLogs, then goes live at the seam', async () => {
    const [minter, wallet] = accounts as [Hex, Hex]
    await backend.synced()
    const everything = backend.client()
    const tokensOnly = backend.client()
    await Promise.all([everything.signIn(), tokensOnly.signIn()])
    await everything.putAccount(wallet, { startBlock: 0 })
    await tokensOnly.putAccount(wallet, { startBlock: 0, activity: ['tokens'] })
    // Activity while history is read: it must arrive once, in order, whether the scan or live matching finds it.
    await callContract(anvil, erc20, minter, 'mint', [wallet, 31n])
    await backend.synced()
    await waitUntil(() => backend.service.health().background?.length === 0, 30_000)
    await backend.synced()
    const head = await anvil.blockNumber()
    const truth = await accountTruth(anvil, wallet, 0, head)
    const live = (await backend.everything(alice)).filter((i) => i.kind === 'account')
    const strip = (i: DeliveryItemOf<'account'>) => {
      const { backfill: _, ...data } = i.data
      return { key: keyOf(i), block: i.block, txHash: i.txHash, data }
    }
    const all = (await backend.everything(everything)).filter((i) => i.kind === 'account')
    expect(all.map((i) => ({ key: keyOf(i), type: typeOf(i) }))).toEqual(truth)
    expect(all.filter((i) => i.data!.backfill === true).length).toBeGreaterThan(0)
    const since = live[0]!.block!.number
    expect(all.filter((i) => i.block!.number >= since).map(strip)).toEqual(live.map(strip))
    // The node calls of its history are charged to the client that asked for it.
    expect((await everything.usage()).usage.backfillCalls).toBeGreaterThan(head)
    const tokens = (await backend.everything(tokensOnly)).filter((i) => i.kind === 'account')
    expect(tokens.map(strip)).toEqual(all.filter((i) => typeOf(i) === 'token').map(strip))
    expect(tokens.length).toBe(truth.filter((t) => t.type === 'token').length)
  })

  it('delivers ether a contract pays an account by an internal call, as the node’s traces show it', async () => {
    const [minter, , other] = accounts as [Hex, Hex, Hex]
    const wallet = accounts[9]!
    const payout = await deployTestContract(anvil, 'TestPayout')
    await backend.synced()
    const c = backend.client()
    await c.signIn()
    expect((await c.putAccount(wallet, { activity: ['native', 'internal'] })).activity).toEqual([
      'native',
      'internal',
    ])
    const from = (await anvil.blockNumber()) + 1
    await callContract(anvil, payout, minter, 'pay', [wallet], 1_000n) // a payout to the wallet: internal, in
    await callContract(anvil, payout, wallet, 'pay', [other], 300n) // the wallet pays through it: native, out
    await callContract(anvil, payout, minter, 'pay', [other], 7n) // none of the wallet's business
    await backend.synced()
    const to = await anvil.blockNumber()
    type Trace = {
      action: { from: Hex; to?: Hex; value?: Hex; callType?: string }
      traceAddress: number[]
      transactionPosition: number
      blockNumber: number
    }
    const truth: string[] = []
    for (let n = from; n <= to; n++) {
      for (const t of await anvil.rpc<Trace[]>('trace_block', [`0x${n.toString(16)}`])) {
        const touches = t.action.from.toLowerCase() === wallet || t.action.to?.toLowerCase() === wallet
        if (t.traceAddress.length > 0 && touches && BigInt(t.action.value ?? '0x0') > 0n)
          truth.push(`${n}:${t.transactionPosition}:${t.traceAddress.join('.')}`)
      }
    }
    expect(truth).toHaveLength(1)
    const items = (await backend.everything(c)).filter((i) => i.kind === 'account')
    const internal = items.filter((i) => typeOf(i) === 'internal')
    expect(
      internal.map(
        (i) =>
          `${i.block!.number}:${i.txIndex}:${(i.data.type === 'internal' ? i.data.traceAddress : []).join('.')}`,
      ),
    ).toEqual(truth)
    expect(internal[0]!.data).toEqual({
      account: wallet,
      type: 'internal',
      direction: 'in',
      counterparty: payout.address.toLowerCase(),
      value: '1000',
      traceAddress: [0],
    })
    expect(
      items
        .filter((i) => typeOf(i) === 'native')
        .map((i) => ('direction' in i.data ? i.data.direction : undefined)),
    ).toEqual(['out'])
    expect((backend.service.health().chain as { traces?: string }).traces).toBe('trace_block')
  })

  it('keeps following when a client with accounts is deleted, and serves the others following the same address', async () => {
    const minter = accounts[0]!
    const wallet = '0x00000000000000000000000000000000000d0d0d' as Hex
    const token = await deployTestContract(anvil, 'TestERC20')
    await backend.synced()
    const [gone, stays] = [backend.client(), backend.client()]
    await Promise.all([gone.signIn(), stays.signIn()])
    await gone.putAccount(wallet)
    await stays.putAccount(wallet)
    expect((await backend.admin('DELETE', `/clients/${gone.clientId}`)).status).toBe(204)
    await callContract(anvil, token, minter, 'mint', [wallet, 12n]) // the first item of a token: metadata with it
    await backend.synced()
    const [item] = (await backend.everything(stays)).filter((i) => i.kind === 'account')
    expect(item!.data).toMatchObject({ amount: '12', tokenInfo: { symbol: 'TUSD' } })
    expect(item!.block!.number).toBe(await anvil.blockNumber())
  })

  it('takes back the items of blocks a reorg removes and delivers the new chain’s', async () => {
    const [minter, , , , wallet] = accounts as [Hex, Hex, Hex, Hex, Hex]
    await backend.synced()
    const c = backend.client()
    await c.signIn()
    await c.putAccount(wallet)
    const from = (await anvil.blockNumber()) + 1
    await callContract(anvil, erc20, minter, 'mint', [wallet, 5n])
    await callContract(anvil, erc721, minter, 'mint', [wallet, 99n])
    await sendEther(anvil, minter, wallet, 77n)
    await backend.synced()
    const delivered = await backend.everything(c)
    expect(delivered.filter((i) => i.kind === 'account')).toHaveLength(3)
    await anvil.rpc('evm_increaseTime', [120])
    await anvil.reorg(2)
    await callContract(anvil, erc20, minter, 'mint', [wallet, 6n])
    await callContract(anvil, erc721, minter, 'mint', [wallet, 100n])
    await backend.synced()
    const after = await backend.everything(c, delivered.at(-1)!.cursor)
    const removed = after.filter((i) => i.kind === 'removed')
    expect(removed.length).toBeGreaterThanOrEqual(2)
    for (const notice of removed)
      expect(notice.data).toMatchObject({ removedKind: 'account', reason: 'reorg' })
    const to = await anvil.blockNumber()
    const all = standing([...delivered, ...after])
    expect(all.map((i) => ({ key: keyOf(i), type: typeOf(i) }))).toEqual(
      await accountTruth(anvil, wallet, from, to),
    )
    for (const item of all) expect(item.block!.hash).toBe((await anvil.block(item.block!.number)).hash)
    // The first ERC-721 item was taken back: the token is new to the account again, metadata included.
    const nft = all.filter(
      (i) => i.kind === 'account' && i.data.type === 'token' && i.data.token === erc721.address.toLowerCase(),
    )
    expect((nft[0]!.data as { tokenInfo?: unknown }).tokenInfo).toEqual({
      name: 'Test Cats',
      symbol: 'TCAT',
      decimals: null,
    })
    expect(nft.slice(1).every((i) => (i.data as { tokenInfo?: unknown }).tokenInfo === undefined)).toBe(true)
  })

  it('bounds the accounts of a client by its plan, refuses bad input with a code, and deletes with its items', async () => {
    const c = backend.client()
    await c.signIn()
    await c.putAccount(accounts[6]!)
    await c.putAccount(accounts[7]!, { activity: ['tokens'] })
    await c.putAccount(accounts[7]!, { activity: ['tokens', 'native'] }) // a replacement is no new account
    const refused = await c.putAccount(accounts[8]!).catch((e: WalletBackendError) => e)
    expect(refused).toMatchObject({ status: 409, code: 'TOO_MANY_ACCOUNTS' })
    const bad = await c
      .putAccount(accounts[8]!, { activity: ['everything' as 'native'] })
      .catch((e: WalletBackendError) => e)
    expect(bad).toMatchObject({ status: 400 })
    const badAddress = await c.putAccount('0x1234' as Hex).catch((e: WalletBackendError) => e)
    expect(badAddress).toMatchObject({ status: 400 })
    expect((await c.listAccounts()).map((a) => [a.address, a.activity])).toEqual([
      [accounts[6], ['native', 'tokens', 'approvals', 'userOps']],
      [accounts[7], ['tokens', 'native']],
    ])
    await sendEther(anvil, accounts[0]!, accounts[6]!, 1n)
    await backend.synced()
    expect((await backend.everything(c)).filter((i) => i.kind === 'account')).toHaveLength(1)
    await c.deleteAccount(accounts[6]!)
    expect(await backend.everything(c)).toEqual([])
    const missing = await c.deleteAccount(accounts[6]!).catch((e: WalletBackendError) => e)
    expect(missing).toMatchObject({ status: 404, code: 'ACCOUNT_NOT_FOUND' })
    // History counts against the plan's back-fill blocks, with the client's other unfinished back-fills.
    await anvil.mine(500)
    await backend.synced()
    const deep = await c.putAccount(accounts[7]!, { startBlock: 0 }).catch((e: WalletBackendError) => e)
    expect(deep).toMatchObject({ status: 409, code: 'BACKFILL_TOO_LARGE', details: { limit: 500 } })
    const head = await anvil.blockNumber()
    expect((await c.putAccount(accounts[7]!, { startBlock: head - 10 })).address).toBe(accounts[7])
    const usage = await c.usage()
    expect(usage.stored.backlogItems).toBe(0)
    expect(usage.limits.accounts).toBe(2)
  })
})
