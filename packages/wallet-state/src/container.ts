import { ChainValidationError, InvalidEventError } from './errors.js'
import { hashCanonical } from './hash.js'
import { cloneState, compareStamps, type SchemaOperations, stampOf } from './schema/createOperations.js'
import { LATEST_SCHEMA_VERSION, operationsFor } from './schema/versions.js'
import type { WalletEvent, WalletState, WalletStateContainer } from './types.js'

const nowSeconds = () => Math.floor(Date.now() / 1000)

function randomId(): string {
  return globalThis.crypto.randomUUID()
}

/** An empty wallet state. Its genesis hash is unique to this wallet, so unrelated wallets never merge. */
export function createContainer(options: { walletId?: string } = {}): WalletStateContainer {
  const tipHash = hashCanonical({ genesis: options.walletId ?? randomId() })
  return { S: operationsFor(LATEST_SCHEMA_VERSION).initState(tipHash), events: [], lastEventHash: tipHash }
}

/**
 * Appends an event of the newest schema version to the container (which is not modified). The
 * event is checked by reducing it, so a malformed payload fails here, on the device that made it.
 */
export function appendEvent(
  container: WalletStateContainer,
  type: string,
  payload: Record<string, unknown>,
  options: { timestampSeconds?: number; eventId?: string } = {},
): WalletStateContainer {
  const event: WalletEvent = {
    schemaVersion: LATEST_SCHEMA_VERSION,
    eventId: options.eventId ?? randomId(),
    parentHash: container.lastEventHash,
    timestampSeconds: options.timestampSeconds ?? nowSeconds(),
    type,
    payload,
  }
  const operations = operationsFor(event.schemaVersion)
  operations.validate(event)
  // A change must stamp above the change to its item it replaces, or a merge of two folded states
  // — which has only the stamps to go by — would let the replaced one win: a clock behind what
  // it has seen takes that time, and a same-second change whose id sorts lower moves one second on.
  const seen = seenStamp(container, event, operations)
  if (seen && compareStamps(stampOf(event), seen) <= 0) {
    event.timestampSeconds = event.eventId > seen[1] ? seen[0] : seen[0] + 1
  }
  return { S: container.S, events: [...container.events, event], lastEventHash: operations.hashEvent(event) }
}

/**
 * The stamp of the latest change to the event's item that could sort at or after the event: only
 * events of the same second or later are looked at, so appending stays a scan of numbers.
 */
function seenStamp(container: WalletStateContainer, event: WalletEvent, operations: SchemaOperations) {
  const subject = operations.subject(event)
  const { events } = container
  for (let i = events.length - 1; i >= 0; i--) {
    const earlier = events[i]!
    if (earlier.timestampSeconds < event.timestampSeconds) continue
    if (operationsFor(earlier.schemaVersion).subject(earlier) === subject) return stampOf(earlier)
  }
  return operations.heldStamp(container.S, event)
}

/** The wallet state now: every event reduced over S, each with the operations of its own version. */
export function currentState(container: WalletStateContainer, supported?: number): WalletState {
  return applyEvents(container.S, container.events, supported)
}

/** S with the events applied, each with the operations of its own version; S itself is left as it was. */
export function applyEvents(
  state: WalletState,
  events: readonly WalletEvent[],
  supported?: number,
): WalletState {
  if (events.length === 0) return state
  const draft = cloneState(state)
  for (const event of events) operationsFor(event.schemaVersion, supported).applyInPlace(draft, event)
  return draft
}

/** The hashes of a container's events, in order. */
export function eventHashes(container: WalletStateContainer, supported?: number): string[] {
  return container.events.map((event) => operationsFor(event.schemaVersion, supported).hashEvent(event))
}

/**
 * Checks the hash chain and the schema versions; throws ChainValidationError at the first broken
 * link, UnsupportedSchemaVersionError for a version this app does not know.
 */
export function validateContainer(container: WalletStateContainer, supported?: number): void {
  validatedHashes(container, supported)
}

/** validateContainer, returning the event hashes it computed on the way (merge needs them too). */
export function validatedHashes(container: WalletStateContainer, supported?: number): string[] {
  if (
    typeof container !== 'object' ||
    container === null ||
    typeof container.S?.fold?.tipHash !== 'string' ||
    !Array.isArray(container.events) ||
    typeof container.lastEventHash !== 'string'
  ) {
    throw new InvalidEventError('not a wallet-state container')
  }
  let parent = container.S.fold.tipHash
  let version = container.S.schemaVersion
  operationsFor(version, supported)
  const hashes: string[] = []
  container.events.forEach((event, index) => {
    if (!isEventShaped(event)) throw new InvalidEventError(`event ${index} is not a well-formed event`)
    const operations = operationsFor(event.schemaVersion, supported)
    try {
      operations.validate(event)
    } catch (error) {
      if (error instanceof InvalidEventError) throw new InvalidEventError(`event ${index}: ${error.message}`)
      throw error
    }
    if (event.parentHash !== parent) throw new ChainValidationError(index, parent, event.parentHash)
    if (event.schemaVersion < version) {
      throw new ChainValidationError(
        index,
        `schema version ≥ ${version}`,
        String(event.schemaVersion),
        'schema version decreased',
      )
    }
    version = event.schemaVersion
    parent = operations.hashEvent(event)
    hashes.push(parent)
  })
  if (container.lastEventHash !== parent) {
    throw new ChainValidationError(
      container.events.length,
      parent,
      container.lastEventHash,
      'lastEventHash does not match',
    )
  }
  return hashes
}

/** The fields every version's events have, with the types merging and hashing rely on. */
function isEventShaped(event: unknown): event is WalletEvent {
  if (typeof event !== 'object' || event === null) return false
  const e = event as Record<string, unknown>
  return (
    typeof e.eventId === 'string' &&
    e.eventId !== '' &&
    typeof e.parentHash === 'string' &&
    typeof e.type === 'string' &&
    Number.isSafeInteger(e.timestampSeconds) &&
    Number.isSafeInteger(e.schemaVersion) &&
    typeof e.payload === 'object' &&
    e.payload !== null &&
    !Array.isArray(e.payload)
  )
}
