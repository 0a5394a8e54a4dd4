import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BaseError } from '../../errors/BaseError.js'
import { writeFileAtomicSync } from './writeFileAtomic.js'

/** The node serves another chain than the one this data directory holds. */
export class ChainIdMismatchError extends BaseError {
  override readonly name = 'ChainIdMismatchError'
  readonly expected: number
  readonly actual: number
  readonly file: string

  constructor(expected: number, actual: number, file: string) {
    super(
      'CHAIN_ID_MISMATCH',
      `The node serves chain ${actual}, but this data directory holds chain ${expected}. ` +
        `Point the backend at a node of chain ${expected}, or use another data directory. ` +
        `If the change of chain is intended and the stored data may be thrown away, delete ${file}.`,
      { status: 503, details: { expected, actual } },
    )
    this.expected = expected
    this.actual = actual
    this.file = file
  }
}

/** The chain pin file exists but cannot be read as one: refusing beats guessing the chain. */
export class ChainPinInvalidError extends BaseError {
  override readonly name = 'ChainPinInvalidError'
  readonly file: string

  constructor(file: string, reason: string) {
    super(
      'CHAIN_PIN_INVALID',
      `${file} does not say which chain this data directory holds (${reason}). ` +
        'Restore it, or delete it to pin the data directory to the chain of the configured node.',
      { status: 503, details: {} },
    )
    this.file = file
  }
}

/** What the pin file records. */
export type ChainPin = { chainId: number; pinnedAt: string }

function readPin(file: string): ChainPin | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  let pin: unknown
  try {
    pin = JSON.parse(text)
  } catch (error) {
    throw new ChainPinInvalidError(file, `not JSON: ${(error as Error).message}`)
  }
  const chainId = (pin as { chainId?: unknown } | null)?.chainId
  if (!Number.isSafeInteger(chainId) || (chainId as number) <= 0) {
    throw new ChainPinInvalidError(file, 'no positive integer "chainId"')
  }
  return pin as ChainPin
}

/**
 * Pins the data directory to one chain: the first start records the node's chain id in
 * `<dataDir>/chain.json`, later starts refuse a node of any other chain with
 * `ChainIdMismatchError` — mixing two chains' blocks in one database would corrupt it silently.
 * Returns whether this call made the pin.
 */
export function ensureChainId(dataDir: string, chainId: number): { pinned: boolean; file: string } {
  if (!Number.isSafeInteger(chainId) || chainId <= 0) throw new TypeError(`${chainId} is not a chain id`)
  const file = join(dataDir, 'chain.json')
  const pin = readPin(file)
  if (pin === undefined) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const record: ChainPin = { chainId, pinnedAt: new Date().toISOString() }
    writeFileAtomicSync(file, `${JSON.stringify(record, null, 2)}\n`)
    return { pinned: true, file }
  }
  if (pin.chainId !== chainId) throw new ChainIdMismatchError(pin.chainId, chainId, file)
  return { pinned: false, file }
}
