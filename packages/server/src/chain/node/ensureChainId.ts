import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BaseError } from '../../errors/BaseError.js'

export class ChainIdMismatchError extends BaseError {
  override readonly name = 'ChainIdMismatchError'
  constructor(expected: number, actual: number, file: string) {
    super(
      'CHAIN_ID_MISMATCH',
      `The node serves chain ${actual}, but this data directory belongs to chain ${expected}. ` +
        `Point the backend at a node of chain ${expected}, or use another data directory ` +
        `(delete ${file} only if the stored data may be thrown away).`,
      { status: 503, details: { expected, actual } },
    )
  }
}

/**
 * Pins the data directory to one chain: the first start records the node's chain id, later starts
 * refuse a node of any other chain instead of mixing two chains' data.
 */
export function ensureChainId(dataDir: string, chainId: number): { pinned: boolean } {
  const file = join(dataDir, 'chain.json')
  let recorded: number | undefined
  try {
    recorded = (JSON.parse(readFileSync(file, 'utf8')) as { chainId: number }).chainId
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  if (recorded === undefined) {
    writeFileSync(file, `${JSON.stringify({ chainId, pinnedAt: new Date().toISOString() }, null, 2)}\n`)
    return { pinned: true }
  }
  if (recorded !== chainId) throw new ChainIdMismatchError(recorded, chainId, file)
  return { pinned: false }
}
