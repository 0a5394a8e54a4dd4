import type { DeliveryItem } from './types.js'
import { ProofVerificationError } from './verify/ProofVerificationError.js'
import type { VerifiedTransaction } from './verify/verifyTransactionProof.js'

/**
 * Throws VALUE_MISMATCH unless what a `tx` item reports of its transaction (`txHash`, and `tx` as
 * the node answered it) is what the proven one says: hash, sender, recipient, value and input.
 */
export function checkItemTransaction(
  item: Extract<DeliveryItem, { kind: 'tx' }>,
  proven: VerifiedTransaction,
): void {
  const reported = item.tx ?? {}
  if (proven.from === undefined) {
    throw new ProofVerificationError('NOT_PROVABLE', 'the sender of the proven transaction does not recover')
  }
  const lower = (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value)
  const quantity = (value: unknown) => {
    try {
      return BigInt(value as string)
    } catch {
      return undefined
    }
  }
  const fields: [string, unknown, unknown][] = [
    ['txHash', lower(item.txHash), proven.hash],
    ['hash', lower(reported.hash), proven.hash],
    ['from', lower(reported.from), proven.from.toLowerCase()],
    ['to', lower(reported.to ?? null), proven.transaction.to?.toLowerCase() ?? null],
    ['value', quantity(reported.value), proven.transaction.value ?? 0n],
    ['input', lower(reported.input), proven.transaction.data?.toLowerCase() ?? '0x'],
  ]
  for (const [field, claimed, actual] of fields) {
    if (claimed !== actual) {
      throw new ProofVerificationError(
        'VALUE_MISMATCH',
        `the transaction's ${field} differs from the proven one's (${String(claimed)} ≠ ${String(actual)})`,
      )
    }
  }
}
