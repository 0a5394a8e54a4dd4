import { BaseError } from '../../errors/BaseError.js'

/**
 * Bounds on an interest's ABI. Matches are decoded with it once, when they are queued, inside the
 * follower's transaction: these keep that work, the ABI's compilation and its storage small
 * whatever a client sends (real contract ABIs fit well within them).
 */
export const ABI_LIMITS = {
  /** The ABI as JSON. */
  bytes: 64 * 1024,
  entries: 256,
  /** Parameters of one entry, inputs and outputs together, tuple components included. */
  paramsPerEntry: 64,
  /** Tuples within tuples. */
  tupleDepth: 4,
  arrayDimensions: 4,
  fixedArrayLength: 1024,
  nameLength: 64,
  internalTypeLength: 256,
} as const

export class InvalidAbiError extends BaseError {
  override readonly name = 'InvalidAbiError'
  constructor(path: string, message: string) {
    super('INVALID_ABI', `${path}: ${message}`, { status: 400, details: { path } })
  }
}

export class AbiTooLargeError extends BaseError {
  override readonly name = 'AbiTooLargeError'
  constructor(path: string, what: string, limit: number) {
    super('ABI_TOO_LARGE', `${path}: at most ${limit} ${what}`, {
      status: 400,
      details: { path, limit },
    })
  }
}

const ENTRY_TYPES = new Set(['function', 'event', 'error', 'constructor', 'fallback', 'receive'])
const NAMED = new Set(['function', 'event', 'error'])
const MUTABILITIES = new Set(['pure', 'view', 'nonpayable', 'payable'])
const ENTRY_KEYS = new Set([
  'type',
  'name',
  'inputs',
  'outputs',
  'stateMutability',
  'anonymous',
  'constant',
  'payable',
  'gas',
])
const PARAM_KEYS = new Set(['name', 'type', 'internalType', 'indexed', 'components'])
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const INTERNAL_TYPE = /^[\x20-\x7e]*$/
const SIZES = Array.from({ length: 32 }, (_, i) => i + 1)
const ELEMENTARY = new Set([
  'address',
  'bool',
  'string',
  'bytes',
  'function',
  'int',
  'uint',
  ...SIZES.map((n) => `bytes${n}`),
  ...SIZES.flatMap((n) => [`int${n * 8}`, `uint${n * 8}`]),
])
const TYPE = /^([a-z0-9]+)((?:\[[0-9]*\])*)$/
const DIMENSION = /\[([0-9]*)\]/g

/**
 * Checks that `abi` is a JSON ABI of Solidity types within ABI_LIMITS: InvalidAbiError names the
 * first thing wrong by its path (`abi/3/inputs/0/type`), AbiTooLargeError the first bound passed.
 * Iterative, not recursive over the client's nesting: tuples are bounded before they are entered.
 */
export function validateAbi(abi: readonly unknown[]): void {
  const bytes = Buffer.byteLength(JSON.stringify(abi))
  if (bytes > ABI_LIMITS.bytes) throw new AbiTooLargeError('abi', 'bytes of JSON', ABI_LIMITS.bytes)
  if (abi.length > ABI_LIMITS.entries) throw new AbiTooLargeError('abi', 'entries', ABI_LIMITS.entries)
  for (const [i, entry] of abi.entries()) validateEntry(entry, `abi/${i}`)
}

function validateEntry(entry: unknown, path: string): void {
  if (!isObject(entry)) throw new InvalidAbiError(path, 'an entry must be an object')
  for (const key of Object.keys(entry))
    if (!ENTRY_KEYS.has(key)) throw new InvalidAbiError(`${path}/${key}`, 'is not a field of an ABI entry')
  const { type, name, stateMutability, anonymous } = entry
  if (typeof type !== 'string' || !ENTRY_TYPES.has(type))
    throw new InvalidAbiError(`${path}/type`, `must be one of ${[...ENTRY_TYPES].join(', ')}`)
  if (NAMED.has(type) || name !== undefined) checkName(name, `${path}/name`, NAMED.has(type))
  if (stateMutability !== undefined && !MUTABILITIES.has(stateMutability as string))
    throw new InvalidAbiError(`${path}/stateMutability`, `must be one of ${[...MUTABILITIES].join(', ')}`)
  for (const key of ['anonymous', 'constant', 'payable'] as const)
    if (entry[key] !== undefined && typeof entry[key] !== 'boolean')
      throw new InvalidAbiError(`${path}/${key}`, 'must be a boolean')
  if (entry.gas !== undefined && typeof entry.gas !== 'number' && typeof entry.gas !== 'string')
    throw new InvalidAbiError(`${path}/gas`, 'must be a number or a string')
  if (anonymous === true && type !== 'event')
    throw new InvalidAbiError(`${path}/anonymous`, 'only events are anonymous')
  let params = 0
  for (const list of ['inputs', 'outputs'] as const) {
    const value = entry[list]
    if (value === undefined) continue
    if (!Array.isArray(value)) throw new InvalidAbiError(`${path}/${list}`, 'must be an array')
    // Each parameter with its depth; components are bounded before they are queued.
    const pending: { param: unknown; path: string; depth: number }[] = value.map((param, j) => ({
      param,
      path: `${path}/${list}/${j}`,
      depth: 0,
    }))
    params += pending.length
    if (params > ABI_LIMITS.paramsPerEntry)
      throw new AbiTooLargeError(path, 'parameters in an entry', ABI_LIMITS.paramsPerEntry)
    for (let next = pending.pop(); next; next = pending.pop()) {
      const components = validateParam(next.param, next.path, type === 'event' && next.depth === 0)
      if (!components) continue
      if (next.depth + 1 > ABI_LIMITS.tupleDepth)
        throw new AbiTooLargeError(next.path, 'tuples nested in one another', ABI_LIMITS.tupleDepth)
      params += components.length
      if (params > ABI_LIMITS.paramsPerEntry)
        throw new AbiTooLargeError(path, 'parameters in an entry', ABI_LIMITS.paramsPerEntry)
      for (const [k, component] of components.entries())
        pending.push({ param: component, path: `${next.path}/components/${k}`, depth: next.depth + 1 })
    }
  }
}

/** Checks one parameter; returns its components when it is a tuple. */
function validateParam(param: unknown, path: string, mayBeIndexed: boolean): unknown[] | undefined {
  if (!isObject(param)) throw new InvalidAbiError(path, 'a parameter must be an object')
  for (const key of Object.keys(param))
    if (!PARAM_KEYS.has(key))
      throw new InvalidAbiError(`${path}/${key}`, 'is not a field of an ABI parameter')
  if (param.name !== undefined && param.name !== '') checkName(param.name, `${path}/name`, false)
  if (
    param.internalType !== undefined &&
    (typeof param.internalType !== 'string' ||
      param.internalType.length > ABI_LIMITS.internalTypeLength ||
      !INTERNAL_TYPE.test(param.internalType))
  )
    throw new InvalidAbiError(
      `${path}/internalType`,
      `must be printable ASCII of at most ${ABI_LIMITS.internalTypeLength} characters`,
    )
  if (param.indexed !== undefined && (typeof param.indexed !== 'boolean' || !mayBeIndexed))
    throw new InvalidAbiError(`${path}/indexed`, 'only event inputs are indexed, with a boolean')
  const { type } = param
  const match = typeof type === 'string' && type.length <= 64 ? TYPE.exec(type) : null
  const base = match?.[1]
  if (!match || !base || (base !== 'tuple' && !ELEMENTARY.has(base)))
    throw new InvalidAbiError(`${path}/type`, 'must be a Solidity type such as uint256, bytes32[] or tuple')
  const dimensions = [...(match[2] ?? '').matchAll(DIMENSION)].map((m) => m[1])
  if (dimensions.length > ABI_LIMITS.arrayDimensions)
    throw new AbiTooLargeError(`${path}/type`, 'array dimensions', ABI_LIMITS.arrayDimensions)
  for (const size of dimensions) {
    if (size === undefined || size === '') continue
    const length = Number(size)
    if (length < 1 || length > ABI_LIMITS.fixedArrayLength || size.length > 4)
      throw new AbiTooLargeError(
        `${path}/type`,
        'elements in a fixed-size array',
        ABI_LIMITS.fixedArrayLength,
      )
  }
  if (base !== 'tuple') {
    if (param.components !== undefined)
      throw new InvalidAbiError(`${path}/components`, 'only a tuple has components')
    return undefined
  }
  if (!Array.isArray(param.components) || param.components.length === 0)
    throw new InvalidAbiError(`${path}/components`, 'a tuple needs an array of at least one component')
  return param.components
}

function checkName(name: unknown, path: string, required: boolean): void {
  if (name === undefined && !required) return
  if (typeof name !== 'string' || name.length > ABI_LIMITS.nameLength || !IDENTIFIER.test(name))
    throw new InvalidAbiError(path, `must be an identifier of at most ${ABI_LIMITS.nameLength} characters`)
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
