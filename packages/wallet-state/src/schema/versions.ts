import { UnsupportedSchemaVersionError } from '../errors.js'
import type { SchemaOperations } from './createOperations.js'
import { WalletStateSchemaVersion1 } from './WalletStateSchemaVersion1.js'
import { WalletStateSchemaVersion2 } from './WalletStateSchemaVersion2.js'

/** Every schema version this build knows, oldest first. New events use the last. */
export const SCHEMA_VERSIONS: readonly SchemaOperations[] = Object.freeze([
  WalletStateSchemaVersion1,
  WalletStateSchemaVersion2,
])

export const LATEST_SCHEMA_VERSION = SCHEMA_VERSIONS.length

/**
 * The operations of `version`. `supported` lets an app that only knows older versions behave
 * like one: a newer version is an UnsupportedSchemaVersionError, never a crash.
 */
export function operationsFor(version: number, supported = LATEST_SCHEMA_VERSION): SchemaOperations {
  const operations = SCHEMA_VERSIONS[version - 1]
  if (!Number.isInteger(version) || version < 1) throw new UnsupportedSchemaVersionError(version, supported)
  if (!operations || version > supported) throw new UnsupportedSchemaVersionError(version, supported)
  return operations
}
