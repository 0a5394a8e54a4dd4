import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type SpawnAnvilOptions, type SpawnedAnvil, spawnAnvil } from '../../src/chain/node/spawnAnvil.js'

export type TestAnvil = {
  node: SpawnedAnvil
  dataDir: string
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>
  mine(blocks?: number): Promise<void>
  blockNumber(): Promise<number>
  block(
    tag: number | string,
  ): Promise<{ hash: `0x${string}`; number: `0x${string}`; parentHash: `0x${string}` }>
  accounts(): Promise<`0x${string}`[]>
  /** Replaces the last `depth` blocks with as many new (empty, or with the given signed txs) blocks. */
  reorg(depth: number): Promise<void>
  /** SIGKILL, as in a crash. */
  kill(): Promise<void>
  /** Starts anvil again on the same port with the same state directory. */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** A real anvil for a test, in a temporary directory that goes away with it. */
export async function startAnvil(options: Partial<SpawnAnvilOptions> = {}): Promise<TestAnvil> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'wb-anvil-'))
  const spawnOptions: SpawnAnvilOptions = { stateIntervalSeconds: 1, ...options, dataDir }
  let node = await spawnAnvil(spawnOptions)
  let id = 0
  const rpc = async <T>(method: string, params: unknown[] = []): Promise<T> => {
    const response = await fetch(node.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
    })
    const body = (await response.json()) as { result?: T; error?: { message: string } }
    if (body.error) throw new Error(`${method}: ${body.error.message}`)
    return body.result as T
  }
  const handle: TestAnvil = {
    get node() {
      return node
    },
    dataDir,
    rpc,
    mine: async (blocks = 1) => {
      await rpc('anvil_mine', [`0x${blocks.toString(16)}`])
    },
    blockNumber: async () => Number(await rpc<string>('eth_blockNumber')),
    block: (tag) =>
      rpc('eth_getBlockByNumber', [typeof tag === 'number' ? `0x${tag.toString(16)}` : tag, false]),
    accounts: () => rpc('eth_accounts'),
    reorg: async (depth) => {
      await rpc('anvil_reorg', [depth, []])
    },
    kill: () => node.kill(),
    restart: async () => {
      node = await spawnAnvil({ ...spawnOptions, port: node.port })
    },
    stop: async () => {
      await node.stop()
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
  return handle
}
