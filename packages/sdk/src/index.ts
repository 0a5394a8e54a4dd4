export { accountActivityOf } from './accountActivityOf.js'
export { WalletBackendError } from './errors.js'
export { solveProofOfWork } from './solveProofOfWork.js'
export type {
  Account,
  AccountActivity,
  AccountActivityKind,
  AccountMovement,
  DeliveryItem,
  DeliveryKind,
  Direction,
  Filter,
  FilterCode,
  Hex,
  Interest,
  StateChange,
  Submission,
  SubmissionStatus,
  SubmissionStatusChange,
  TokenInfo,
  Watch,
  WatchKind,
} from './types.js'
export {
  type AccountProof,
  type BlockHeader,
  computeBlockHash,
  ProofVerificationError,
  type Receipt,
  type TransactionProof,
  type VerifiedTransaction,
  verifyAccountProof,
  verifyBlockHeader,
  verifyReceiptProof,
  verifyTransactionProof,
} from './verify/index.js'
export {
  type ClientOptions,
  type Stream,
  type StreamOptions,
  WalletBackendClient,
  type WebSocketConstructor,
} from './WalletBackendClient.js'
export { type SyncResult, WalletStateSync } from './WalletStateSync.js'
