import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ChainIdMismatchError, ensureChainId } from '../../../src/chain/node/ensureChainId.js'
import { startAnvil } from '../../support/anvil.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wb-node-'))
  dirs.push(dir)
  return dir
}

describe('embedded anvil', () => {
  it('continues the same chain after a stop and a new spawn on the same data directory', async () => {
    const dataDir = tempDir()
    const first = await startAnvil({ dataDir })
    await first.mine(5)
    const block3 = await first.block(3)
    await first.node.stop()
    const second = await startAnvil({ dataDir })
    try {
      expect(await second.blockNumber()).toBe(5)
      expect((await second.block(3)).hash).toBe(block3.hash)
    } finally {
      await second.node.stop()
    }
  })

  it('leaves no process behind when stopped', async () => {
    const anvil = await startAnvil({ dataDir: tempDir() })
    const pid = anvil.node.pid
    await anvil.node.stop()
    expect(() => process.kill(pid, 0)).toThrow()
  })
})

describe('ensureChainId', () => {
  it('pins the first chain id and refuses another one later', () => {
    const dir = tempDir()
    expect(ensureChainId(dir, 31337)).toEqual({ pinned: true })
    expect(ensureChainId(dir, 31337)).toEqual({ pinned: false })
    expect(() => ensureChainId(dir, 1)).toThrow(ChainIdMismatchError)
    try {
      ensureChainId(dir, 1)
    } catch (error) {
      expect((error as ChainIdMismatchError).code).toBe('CHAIN_ID_MISMATCH')
      expect((error as Error).message).toContain('chain.json')
    }
  })

  it('does not mistake a corrupt pin file for a missing one', () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'chain.json'), '{broken')
    expect(() => ensureChainId(dir, 31337)).toThrow(SyntaxError)
  })
})
