import type { AccountActivity, Hex } from './types.js'
import type { Receipt, VerifiedTransaction } from './verify/index.js'
import { ProofVerificationError } from './verify/index.js'

const mismatch = (what: string) => new ProofVerificationError('VALUE_MISMATCH', what)
const word = (data: Hex, i: number) => BigInt(`0x${data.slice(2 + i * 64, 2 + (i + 1) * 64) || '0'}`)

/**
 * Checks an `account` item read from a log against the log of the proven receipt: the emitter, the
 * account in one of its topics, and the amount or token id the item says moved.
 */
export function checkAccountLog(activity: AccountActivity, logIndex: number, receipt: Receipt): void {
  const log = receipt.logs.find((l) => Number(l.logIndex) === logIndex)
  if (!log) throw mismatch(`the proven receipt has no log ${logIndex}`)
  const emitter =
    'token' in activity ? activity.token : activity.type === 'userOp' ? activity.entryPoint : undefined
  if (!emitter || log.address.toLowerCase() !== emitter.toLowerCase())
    throw mismatch(`log ${logIndex} was not emitted by ${emitter}`)
  const padded = `0x${activity.account.slice(2).toLowerCase().padStart(64, '0')}`
  if (!log.topics.slice(1).some((topic) => topic.toLowerCase() === padded))
    throw mismatch(`log ${logIndex} does not name ${activity.account}`)
  if (activity.type !== 'token') return
  const claims: [string | undefined, bigint][] =
    activity.standard === 'erc20'
      ? [[activity.amount, word(log.data, 0)]]
      : activity.standard === 'erc721'
        ? [[activity.tokenId, BigInt(log.topics[3] ?? '0x0')]]
        : activity.tokenIds
          ? []
          : [
              [activity.tokenId, word(log.data, 0)],
              [activity.amount, word(log.data, 1)],
            ]
  for (const [claimed, proven] of claims)
    if (claimed === undefined || BigInt(claimed) !== proven)
      throw mismatch(`log ${logIndex} moved ${proven}, not ${claimed}`)
}

/** Checks a `native` item against the proven transaction: the account is its sender or recipient, and the value. */
export function checkAccountTransaction(activity: AccountActivity, proven: VerifiedTransaction): void {
  if (activity.type !== 'native') throw mismatch(`a ${activity.type} item is not read from its transaction`)
  const me = activity.account.toLowerCase()
  if (proven.from?.toLowerCase() !== me && proven.transaction.to?.toLowerCase() !== me)
    throw mismatch(`transaction ${proven.index} is neither from nor to ${activity.account}`)
  if (BigInt(activity.value) !== (proven.transaction.value ?? 0n))
    throw mismatch(
      `transaction ${proven.index} sent ${proven.transaction.value ?? 0n}, not ${activity.value}`,
    )
}
