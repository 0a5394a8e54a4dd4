import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ChainIdMismatchError,
  ChainPinInvalidError,
  ensureChainId,
} from '../../../src/chain/node/ensureChainId.js'
import { RpcClient } from '../../../src/chain/rpc/RpcClient.js'
import { startAnvil } from '../../support/anvil.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wb-chain-'))
  dirs.push(dir)
  return dir
}

describe('ensureChainId', () => {
  it('pins the first chain id, accepts it again, and refuses another one', () => {
    const dir = tempDir()
    const file = join(dir, 'chain.json')
    expect(ensureChainId(dir, 31337)).toEqual({ pinned: true, file })
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ chainId: 31337 })
    expect(readdirSync(dir)).toEqual(['chain.json'])
    expect(ensureChainId(dir, 31337)).toEqual({ pinned: false, file })
    let refused: unknown
    try {
      ensureChainId(dir, 1)
    } catch (error) {
      refused = error
    }
    expect(refused).toBeInstanceOf(ChainIdMismatchError)
    expect(refused).toMatchObject({ code: 'CHAIN_ID_MISMATCH', expected: 31337, actual: 1, file })
    const message = (refused as Error).message
    expect(message).toContain('chain 1,')
    expect(message).toContain('chain 31337')
    expect(message).toContain(`delete ${file}`)
    // A refusal changes nothing.
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ chainId: 31337 })
  })

  it('creates the data directory if it does not exist yet', () => {
    const dir = join(tempDir(), 'new', 'data')
    expect(ensureChainId(dir, 10).pinned).toBe(true)
    expect(ensureChainId(dir, 10).pinned).toBe(false)
  })

  it('does not mistake a damaged pin file for a missing one', () => {
    for (const content of ['{broken', '{"chainId":"0x7a69"}', 'null', '{}']) {
      const dir = tempDir()
      writeFileSync(join(dir, 'chain.json'), content)
      expect(() => ensureChainId(dir, 31337)).toThrow(ChainPinInvalidError)
      expect(readFileSync(join(dir, 'chain.json'), 'utf8')).toBe(content)
    }
  })

  it('refuses a node of another chain than the one the data directory was first used with', async () => {
    const dir = tempDir()
    const first = await startAnvil({ chainId: 31337 })
    const second = await startAnvil({ chainId: 999 })
    const clients = [first, second].map((node) => new RpcClient({ urls: [node.node.httpUrl] }))
    try {
      const chainOf = async (client: RpcClient) => Number(await client.request<string>('eth_chainId', []))
      expect(ensureChainId(dir, await chainOf(clients[0]!)).pinned).toBe(true)
      expect(() => ensureChainId(dir, 999)).toThrow(ChainIdMismatchError)
      const actual = await chainOf(clients[1]!)
      expect(actual).toBe(999)
      expect(() => ensureChainId(dir, actual)).toThrow(
        /serves chain 999, but this data directory holds chain 31337/,
      )
    } finally {
      await Promise.all(clients.map((client) => client.close()))
      await Promise.all([first.stop(), second.stop()])
    }
  })
})
