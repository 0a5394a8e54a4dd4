import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Address, Hex } from 'viem'
import { type SpawnAnvilOptions, type SpawnedAnvil, spawnAnvil } from '../../src/chain/node/spawnAnvil.js'
import { RpcResponseError } from '../../src/chain/rpc/errors.js'

/** The block fields tests look at; the rest of what the node sends is there too. */
export type TestBlock = { hash: Hex; number: Hex; parentHash: Hex; timestamp: Hex; transactions: unknown[] }

export type TestAnvil = {
  /** The running node (a new one after `restart()`). */
  readonly node: SpawnedAnvil
  dataDir: string
  /** One JSON-RPC call over HTTP; a JSON-RPC error throws `RpcResponseError`. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>
  mine(blocks?: number): Promise<void>
  blockNumber(): Promise<number>
  block(tag: number | string): Promise<TestBlock>
  accounts(): Promise<Address[]>
  /** `evm_snapshot`: an id to `revert` to. */
  snapshot(): Promise<Hex>
  /** `evm_revert`: back to the snapshot, which is used up. */
  revert(id: Hex): Promise<boolean>
  /**
   * `anvil_reorg`: replaces the last `depth` blocks with as many new ones — empty, or holding the
   * given signed transactions, each at its offset from the first replaced block.
   */
  reorg(depth: number, txs?: [signedTx: Hex, blockOffset: number][]): Promise<void>
  /** SIGKILL, as in a crash: blocks since the last state save are lost. */
  kill(): Promise<void>
  /** Starts anvil again on the same port and data directory (stopping it first if it runs). */
  restart(): Promise<void>
  /** Stops anvil and removes the temporary data directory. */
  stop(): Promise<void>
}

const living = new Set<TestAnvil>()
const temporaryDirs = new Set<string>()
let exitHookInstalled = false

/** A test process that ends without its cleanup still removes its directories (anvil is stopped by spawnAnvil). */
function cleanUpOnExit(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true })
  })
}

/**
 * A real anvil for a test. Unless `dataDir` is given, it lives in a temporary directory that
 * `stop()` removes. State is saved every second (instead of 5) so that a test can crash it soon
 * after mining and still find its blocks.
 */
export async function startAnvil(options: Partial<SpawnAnvilOptions> = {}): Promise<TestAnvil> {
  const temporary = options.dataDir === undefined
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'wb-anvil-'))
  if (temporary) {
    temporaryDirs.add(dataDir)
    cleanUpOnExit()
  }
  const spawnOptions: SpawnAnvilOptions = { stateIntervalSeconds: 1, ...options, dataDir }
  let node: SpawnedAnvil
  try {
    node = await spawnAnvil(spawnOptions)
  } catch (error) {
    if (temporary) {
      rmSync(dataDir, { recursive: true, force: true })
      temporaryDirs.delete(dataDir)
    }
    throw error
  }
  let id = 0
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(node.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
      signal: AbortSignal.timeout(30_000),
    })
    const body = (await response.json()) as {
      result?: T
      error?: { code: number; message: string; data?: unknown }
    }
    if (body.error) throw new RpcResponseError(method, body.error)
    return body.result as T
  }
  const hex = (n: number): Hex => `0x${n.toString(16)}`
  const handle: TestAnvil = {
    get node() {
      return node
    },
    dataDir,
    rpc,
    mine: async (blocks = 1) => {
      await rpc('anvil_mine', [hex(blocks)])
    },
    blockNumber: async () => Number(await rpc<Hex>('eth_blockNumber')),
    block: async (tag) => {
      const block = await rpc<TestBlock | null>('eth_getBlockByNumber', [
        typeof tag === 'number' ? hex(tag) : tag,
        false,
      ])
      if (!block) throw new Error(`anvil has no block ${tag}`)
      return block
    },
    accounts: () => rpc<Address[]>('eth_accounts'),
    snapshot: () => rpc<Hex>('evm_snapshot'),
    revert: (snapshotId) => rpc<boolean>('evm_revert', [snapshotId]),
    reorg: async (depth, txs = []) => {
      await rpc('anvil_reorg', [depth, txs])
    },
    kill: () => node.kill(),
    restart: async () => {
      await node.stop()
      node = await spawnAnvil({ ...spawnOptions, port: node.port })
    },
    stop: async () => {
      living.delete(handle)
      await node.stop()
      if (temporary) {
        rmSync(dataDir, { recursive: true, force: true })
        temporaryDirs.delete(dataDir)
      }
    },
  }
  living.add(handle)
  return handle
}

/** Every test anvil not yet stopped — for a suite's `afterAll` safety net. */
export async function stopAllAnvils(): Promise<void> {
  await Promise.all([...living].map((anvil) => anvil.stop()))
}
