import type { Hex } from 'viem'
import type { RpcLog, RpcReceipt, RpcTransaction } from '../chain/types.js'
import { BaseError } from '../errors/BaseError.js'

export const FILTER_CODES = ['all', 'logs', 'calls', 'transfers', 'value'] as const
export type FilterCode = (typeof FILTER_CODES)[number]

/** keccak256 of the token transfer event signatures. */
export const TRANSFER_TOPIC = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef' // Transfer(address,address,uint256)
export const TRANSFER_SINGLE_TOPIC = '0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62'
export const TRANSFER_BATCH_TOPIC = '0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb'

export class InvalidFilterError extends BaseError {
  override readonly name = 'InvalidFilterError'
  constructor(index: number, message: string) {
    super('INVALID_FILTER', `filters[${index}]: ${message}`, { status: 400, details: { index } })
  }
}

/** A filter ready to test transactions and logs of the interest's contract. */
export type CompiledFilter = {
  code: FilterCode
  /** Topic0 values this filter can match ('*' for any); empty when it matches no logs. */
  logTopic0: (Hex | '*')[]
  matchesTransactions: boolean
  matchTx(tx: RpcTransaction, receipt: RpcReceipt): boolean
  matchLog(log: RpcLog): boolean
  /** Relative evaluation cost, for metering and limits. */
  cost: number
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/
const ADDRESS = /^0x[0-9a-fA-F]{40}$/
const SELECTOR = /^0x[0-9a-fA-F]{8}$/
const MAX_SET = 32

function topicSet(value: unknown, index: number, position: number): Set<string> | null {
  if (value === null || value === undefined) return null
  const values = Array.isArray(value) ? value : [value]
  if (values.length === 0 || values.length > MAX_SET) {
    throw new InvalidFilterError(
      index,
      `topic${position} must be null, a 32-byte hex value or 1 to ${MAX_SET} of them`,
    )
  }
  for (const v of values) {
    if (typeof v !== 'string' || !HEX32.test(v)) {
      throw new InvalidFilterError(
        index,
        `topic${position} has "${String(v).slice(0, 80)}", not a 32-byte hex value`,
      )
    }
  }
  return new Set(values.map((v: string) => v.toLowerCase()))
}

const paddedAddress = (address: string) => `0x${'0'.repeat(24)}${address.slice(2).toLowerCase()}`

/**
 * Validates a filter's `args` for its `code` and compiles it into predicates. Every malformed
 * filter is an InvalidFilterError naming its position and what is wrong.
 */
export function compileFilter(code: unknown, args: unknown, index: number): CompiledFilter {
  if (typeof code !== 'string' || !(FILTER_CODES as readonly string[]).includes(code)) {
    throw new InvalidFilterError(
      index,
      `unknown code "${String(code).slice(0, 40)}"; codes: ${FILTER_CODES.join(', ')}`,
    )
  }
  if (!Array.isArray(args)) throw new InvalidFilterError(index, 'args must be an array')
  const none = () => false
  switch (code as FilterCode) {
    case 'all':
      if (args.length !== 0) throw new InvalidFilterError(index, '"all" takes no args')
      return {
        code: 'all',
        logTopic0: ['*'],
        matchesTransactions: true,
        matchTx: () => true,
        matchLog: () => true,
        cost: 2,
      }
    case 'logs': {
      if (args.length < 1 || args.length > 4)
        throw new InvalidFilterError(index, '"logs" takes 1 to 4 topic patterns')
      const sets = args.map((arg, position) => topicSet(arg, index, position))
      const topic0 = sets[0]
      return {
        code: 'logs',
        logTopic0: topic0 ? ([...topic0] as Hex[]) : ['*'],
        matchesTransactions: false,
        matchTx: none,
        matchLog: (log) =>
          sets.every((set, position) => set === null || set.has((log.topics[position] ?? '').toLowerCase())),
        cost: 1 + sets.filter((set) => set !== null).length,
      }
    }
    case 'calls': {
      const selectors = args.length === 1 && Array.isArray(args[0]) ? args[0] : args
      if (selectors.length === 0 || selectors.length > MAX_SET) {
        throw new InvalidFilterError(index, `"calls" takes 1 to ${MAX_SET} function selectors`)
      }
      for (const selector of selectors) {
        if (typeof selector !== 'string' || !SELECTOR.test(selector)) {
          throw new InvalidFilterError(
            index,
            `"${String(selector).slice(0, 40)}" is not a 4-byte selector like 0xa9059cbb`,
          )
        }
      }
      const wanted = new Set(selectors.map((s: string) => s.toLowerCase()))
      return {
        code: 'calls',
        logTopic0: [],
        matchesTransactions: true,
        matchTx: (tx) => wanted.has(tx.input.slice(0, 10).toLowerCase()),
        matchLog: none,
        cost: 1,
      }
    }
    case 'transfers': {
      const [party, direction = 'any'] = args
      if (typeof party !== 'string' || !ADDRESS.test(party) || args.length > 2) {
        throw new InvalidFilterError(
          index,
          '"transfers" takes [address, direction?] with an address of 20 bytes',
        )
      }
      if (direction !== 'from' && direction !== 'to' && direction !== 'any') {
        throw new InvalidFilterError(index, 'direction must be "from", "to" or "any"')
      }
      const topic = paddedAddress(party)
      const fromOk = direction !== 'to'
      const toOk = direction !== 'from'
      return {
        code: 'transfers',
        logTopic0: [TRANSFER_TOPIC, TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC],
        matchesTransactions: false,
        matchTx: none,
        matchLog: (log) => {
          const t0 = log.topics[0]?.toLowerCase()
          // ERC-20/721: Transfer(from, to, …); ERC-1155: Transfer{Single,Batch}(operator, from, to, …)
          const [from, to] =
            t0 === TRANSFER_TOPIC ? [log.topics[1], log.topics[2]] : [log.topics[2], log.topics[3]]
          return (fromOk && from?.toLowerCase() === topic) || (toOk && to?.toLowerCase() === topic)
        },
        cost: 2,
      }
    }
    case 'value': {
      const [min = '0'] = args
      if (args.length > 1 || typeof min !== 'string' || !/^[0-9]{1,78}$/.test(min)) {
        throw new InvalidFilterError(index, '"value" takes [minimumWei?] as a decimal string')
      }
      const minimum = BigInt(min)
      return {
        code: 'value',
        logTopic0: [],
        matchesTransactions: true,
        matchTx: (tx) => {
          const value = BigInt(tx.value)
          return value > 0n && value >= minimum
        },
        matchLog: none,
        cost: 1,
      }
    }
  }
}
