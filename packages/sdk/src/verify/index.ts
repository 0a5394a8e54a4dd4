export { computeBlockHash } from './computeBlockHash.js'
export { encodeReceipt, receiptKey } from './encodeReceipt.js'
export { ProofVerificationError } from './ProofVerificationError.js'
export type { AccountProof, BlockHeader, Receipt, TransactionProof } from './types.js'
export { type VerifiedAccount, verifyAccountProof } from './verifyAccountProof.js'
export { verifyBlockHeader } from './verifyBlockHeader.js'
export { verifyReceiptProof } from './verifyReceiptProof.js'
export {
  type DepositTransaction,
  type VerifiedTransaction,
  verifyTransactionProof,
} from './verifyTransactionProof.js'
