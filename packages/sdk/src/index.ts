export { accountActivityOf } from './accountActivityOf.js'
export { StreamError, WalletBackendError } from './errors.js'
export { solveProofOfWork } from './solveProofOfWork.js'
export type { Stream, StreamOptions, WebSocketConstructor, WebSocketLike } from './stream.js'
export { reconnectDelay } from './stream.js'
export type {
  Account,
  AccountActivity,
  AccountActivityKind,
  AccountMovement,
  BackfillStatus,
  DeliveryItem,
  DeliveryItemOf,
  DeliveryKind,
  Direction,
  ErrorCode,
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
  WalletBackendClient,
} from './WalletBackendClient.js'
export {
  DEFAULT_SYNC_FOLD_POLICY,
  type SyncResult,
  WalletStateSync,
  type WalletStateSyncOptions,
} from './WalletStateSync.js'
