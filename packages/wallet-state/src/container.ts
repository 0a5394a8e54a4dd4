import { ChainValidationError, InvalidEventError } from './errors.js'
import { contentHash, knownWellFormed, linkOf, markWellFormed } from './eventHash.js'
import { hashCanonical } from './hash.js'
import { LWW_FOLD_FORMAT, stateDigest } from './lww.js'
import { cloneState, compareStamps, type SchemaOperations, stampOf } from './schema/createOperations.js'
import { LATEST_SCHEMA_VERSION, operationsFor } from './schema/versions.js'
import type { Stamp, WalletEvent, WalletState, WalletStateContainer } from './types.js'

const nowSeconds = () => Math.floor(Date.now() / 1000)

function randomId(): string {
  return globalThis.crypto.randomUUID()
}

/** An empty wallet state. Its genesis hash is unique to this wallet, so unrelated wallets never merge. */
export function createContainer(options: { walletId?: string } = {}): WalletStateContainer {
  const wallet = hashCanonical({ genesis: options.walletId ?? randomId() })
  const S = operationsFor(LATEST_SCHEMA_VERSION).initState(wallet)
  S.fold = { format: LWW_FOLD_FORMAT, wallet, watermark: null, tipHash: '' }
  S.fold = { ...S.fold, tipHash: stateDigest(S) }
  return { S, events: [], lastEventHash: S.fold.tipHash }
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
    // A copy: what is derived from a payload is cached, and the caller may change its object later.
    payload: structuredClone(payload),
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
  const link = linkOf(container.S.fold.format)(event)
  return { S: container.S, events: [...container.events, event], lastEventHash: link }
}

/**
 * The stamp of the latest change to the event's item that could sort at or after the event: only
 * events of the same second or later are looked at, so appending stays a scan of numbers.
 */
function seenStamp(container: WalletStateContainer, event: WalletEvent, operations: SchemaOperations) {
  const subject = operations.subject(event)
  let seen: Stamp | undefined = operations.heldStamp(container.S, event)
  // A merged log is sorted by stamp, but appended events need not be: every candidate is looked at.
  for (const earlier of container.events) {
    if (earlier.timestampSeconds < event.timestampSeconds) continue
    if (seen && compareStamps(stampOf(earlier), seen) <= 0) continue
    if (operationsFor(earlier.schemaVersion).subject(earlier) === subject) seen = stampOf(earlier)
  }
  return seen
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
  const link = linkOf(container.S.fold.format)
  return container.events.map((event) => {
    operationsFor(event.schemaVersion, supported)
    return link(event)
  })
}

/**
 * Checks the hash chain and the schema versions; throws ChainValidationError at the first broken
 * link, UnsupportedSchemaVersionError for a version this app does not know. A container already
 * validated (the same objects, which are never changed) is not checked again.
 */
export function validateContainer(container: WalletStateContainer, supported?: number): void {
  runSteps(validationSteps(container, supported))
}

function runSteps(steps: Generator<void, void>): void {
  for (;;) if (steps.next().done) return
}

/** Containers found valid, with the highest schema version this app was then known to support. */
const validated = new WeakMap<WalletStateContainer, number>()
const validStates = new WeakSet<WalletState>()

/** validateContainer in steps, pausing now and then for an async caller to yield. */
export function* validationSteps(container: WalletStateContainer, supported = LATEST_SCHEMA_VERSION) {
  if (
    typeof container !== 'object' ||
    container === null ||
    typeof container.S?.fold?.tipHash !== 'string' ||
    !Array.isArray(container.events) ||
    typeof container.lastEventHash !== 'string'
  ) {
    throw new InvalidEventError('not a wallet-state container')
  }
  const known = validated.get(container)
  if (known !== undefined && known <= supported) return
  let parent = container.S.fold.tipHash
  let version = container.S.schemaVersion
  operationsFor(version, supported)
  const { fold } = container.S
  if (fold.format === LWW_FOLD_FORMAT) {
    if (typeof fold.wallet !== 'string' || !(fold.watermark === null || Array.isArray(fold.watermark))) {
      throw new InvalidEventError('not a wallet-state container: malformed fold')
    }
    if (!validStates.has(container.S)) {
      const digest = stateDigest(container.S)
      if (digest !== fold.tipHash)
        throw new ChainValidationError(0, digest, fold.tipHash, 'S does not match its tip')
      validStates.add(container.S)
    }
  } else if (fold.format !== undefined) {
    throw new InvalidEventError(`unknown fold format ${String((fold as { format: unknown }).format)}`)
  }
  // (time, id) of each event; the content hash is needed only where they repeat.
  const seen = fold.format === LWW_FOLD_FORMAT ? new Map<string, WalletEvent>() : undefined
  const link = linkOf(fold.format)
  for (let index = 0; index < container.events.length; index++) {
    const event = container.events[index]
    if (!isEventShaped(event)) throw new InvalidEventError(`event ${index} is not a well-formed event`)
    operationsFor(event.schemaVersion, supported)
    if (!knownWellFormed(event)) {
      try {
        operationsFor(event.schemaVersion, supported).validate(event)
      } catch (error) {
        if (error instanceof InvalidEventError)
          throw new InvalidEventError(`event ${index}: ${error.message}`)
        throw error
      }
      markWellFormed(event)
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
    if (seen) {
      // One event is one content: the same event twice in a log is a broken log, not two edits.
      const key = `${event.timestampSeconds}:${event.eventId}`
      const other = seen.get(key)
      if (other && contentHash(other) === contentHash(event)) {
        throw new ChainValidationError(
          index,
          'a new event',
          contentHash(event),
          'the same event occurs twice',
        )
      }
      seen.set(key, event)
    }
    version = event.schemaVersion
    parent = link(event)
    if ((index & 1023) === 1023) yield
  }
  if (container.lastEventHash !== parent) {
    throw new ChainValidationError(
      container.events.length,
      parent,
      container.lastEventHash,
      'lastEventHash does not match',
    )
  }
  validated.set(container, supported)
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
