export { canonicalize } from './canonicalize.js'
export { appendEvent, createContainer, currentState, eventHashes, validateContainer } from './container.js'
export {
  decryptContainer,
  deriveKeyForEnvelope,
  deriveKeyFromPassphrase,
  deriveKeyFromSecret,
  encryptContainer,
  envelopeHeader,
  type PassphraseParams,
  type WalletStateKey,
} from './crypto.js'
export {
  ChainValidationError,
  DecryptionError,
  InvalidEventError,
  NoCommonAncestorError,
  UnsupportedSchemaVersionError,
  WalletStateError,
} from './errors.js'
export { chainLink, fullStamp as eventStamp } from './eventHash.js'
export { type FoldPolicy, foldContainer } from './fold.js'
export { hashCanonical } from './hash.js'
export { LWW_FOLD_FORMAT } from './lww.js'
export { type MergeOptions, mergeContainers, mergeContainersAsync, normalizeContainer } from './merge.js'
export {
  compareStamps,
  createOperations,
  type EventRule,
  type SchemaOperations,
} from './schema/createOperations.js'
export { LATEST_SCHEMA_VERSION, operationsFor, SCHEMA_VERSIONS } from './schema/versions.js'
export { WalletStateSchemaVersion1 } from './schema/WalletStateSchemaVersion1.js'
export { WalletStateSchemaVersion2 } from './schema/WalletStateSchemaVersion2.js'
export type {
  Collection,
  FoldInfo,
  LegacyFoldInfo,
  LwwFoldInfo,
  Stamp,
  Stamped,
  WalletEvent,
  WalletState,
  WalletStateContainer,
} from './types.js'
