import { canonicalize } from './canonicalize.js'
import { sha256Hex } from './hash.js'
import type { Stamp, WalletEvent } from './types.js'

// Events are immutable once made, so what is derived from them is cached — per payload object,
// which a re-chained copy of an event shares with the original: the payload (nearly all of an
// event's bytes) is serialised and hashed once however often the event moves. Each cached value
// records the fields it was derived from and is used only while they still match.
type Derived = {
  json?: string
  content?: string
  contentOf?: [eventId: string, timestampSeconds: number, type: string]
  link?: string
  linkOf?: [parentHash: string, schemaVersion: number, content: string]
  /** The type and schema version the payload was found well-formed for. */
  validAs?: [type: string, schemaVersion: number]
}
const derived = new WeakMap<object, Derived>()
/** Format-1 chain hashes (canonical JSON of the whole event), per event object. */
const eventHashes = new WeakMap<WalletEvent, string>()

function derivedOf(event: WalletEvent): Derived {
  let entry = derived.get(event.payload)
  if (entry === undefined) {
    entry = {}
    derived.set(event.payload, entry)
  }
  return entry
}

const EVENT_KEYS = new Set(['eventId', 'parentHash', 'payload', 'schemaVersion', 'timestampSeconds', 'type'])

function canonicalPayload(event: WalletEvent): string {
  const entry = derivedOf(event)
  entry.json ??= canonicalize(event.payload)
  return entry.json
}

/** Whether the event has exactly the fields of an event (anything else is hashed the slow way). */
function isPlainEvent(event: WalletEvent): boolean {
  let count = 0
  for (const key in event) {
    if (!EVENT_KEYS.has(key) || (event as Record<string, unknown>)[key] === undefined) return false
    count++
  }
  return count === EVENT_KEYS.size
}

/** Whether the event's payload was found well-formed for its type and version before. */
export function knownWellFormed(event: WalletEvent): boolean {
  const as = derived.get(event.payload)?.validAs
  return as !== undefined && as[0] === event.type && as[1] === event.schemaVersion
}

export function markWellFormed(event: WalletEvent): void {
  derivedOf(event).validAs = [event.type, event.schemaVersion]
}

/** The event's canonical JSON, its payload serialised once per payload object. */
export function canonicalEvent(event: WalletEvent): string {
  if (!isPlainEvent(event)) return canonicalize(event)
  return `{"eventId":${JSON.stringify(event.eventId)},"parentHash":${JSON.stringify(event.parentHash)},"payload":${canonicalPayload(event)},"schemaVersion":${JSON.stringify(event.schemaVersion)},"timestampSeconds":${JSON.stringify(event.timestampSeconds)},"type":${JSON.stringify(event.type)}}`
}

/** SHA-256 of the event's canonical JSON: the chain link the next event's parentHash names. */
export function hashEvent(event: WalletEvent): string {
  let hash = eventHashes.get(event)
  if (hash !== undefined) return hash
  hash = sha256Hex(canonicalEvent(event))
  eventHashes.set(event, hash)
  return hash
}

/**
 * The event's identity: SHA-256 of what it says — id, time, type and payload — without where it
 * sits in a chain (parentHash) or the schema version it was raised to there. Two events with one id
 * but different content are two events; one event re-chained by a merge is still the same one.
 */
export function contentHash(event: WalletEvent): string {
  const entry = derivedOf(event)
  const of = entry.contentOf
  if (
    entry.content !== undefined &&
    of![0] === event.eventId &&
    of![1] === event.timestampSeconds &&
    of![2] === event.type
  ) {
    return entry.content
  }
  const hash = sha256Hex(
    `{"eventId":${JSON.stringify(event.eventId)},"payload":${canonicalPayload(event)},"timestampSeconds":${JSON.stringify(event.timestampSeconds)},"type":${JSON.stringify(event.type)}}`,
  )
  entry.content = hash
  entry.contentOf = [event.eventId, event.timestampSeconds, event.type]
  return hash
}

/**
 * The chain link of an event in a container of fold format 2: SHA-256 of its parent, its schema
 * version and its content hash. It binds exactly what the canonical-JSON hash of format 1 binds,
 * but re-chaining a merged log hashes about a hundred bytes per event instead of the whole event.
 */
export function chainLink(event: WalletEvent): string {
  const content = contentHash(event)
  const entry = derivedOf(event)
  const of = entry.linkOf
  if (
    entry.link !== undefined &&
    of![0] === event.parentHash &&
    of![1] === event.schemaVersion &&
    of![2] === content
  ) {
    return entry.link
  }
  const hash = sha256Hex(
    `wallet-state-link\n${event.parentHash}\n${JSON.stringify(event.schemaVersion)}\n${content}`,
  )
  entry.link = hash
  entry.linkOf = [event.parentHash, event.schemaVersion, content]
  return hash
}

/** How a container's events link: canonical-JSON hashes in fold format 1, chainLink in format 2. */
export function linkOf(format: number | undefined): (event: WalletEvent) => string {
  return format === 2 ? chainLink : hashEvent
}

/**
 * Orders events by stamp: time, eventId, then content hash — computed only when time and id tie.
 */
export function compareEvents(x: WalletEvent, y: WalletEvent): number {
  if (x.timestampSeconds !== y.timestampSeconds) return x.timestampSeconds - y.timestampSeconds
  if (x.eventId !== y.eventId) return x.eventId < y.eventId ? -1 : 1
  if (x === y) return 0
  const a = contentHash(x)
  const b = contentHash(y)
  return a < b ? -1 : a > b ? 1 : 0
}

/** compareStamps(fullStamp(event), stamp), hashing the event only when time and id tie. */
export function compareEventToStamp(event: WalletEvent, stamp: Stamp): number {
  if (event.timestampSeconds !== stamp[0]) return event.timestampSeconds - stamp[0]
  if (event.eventId !== stamp[1]) return event.eventId < stamp[1] ? -1 : 1
  const a = contentHash(event)
  const b = stamp[2] ?? ''
  return a < b ? -1 : a > b ? 1 : 0
}

/** The event's full stamp: (timestampSeconds, eventId, content hash). */
export function fullStamp(event: WalletEvent): Stamp {
  return [event.timestampSeconds, event.eventId, contentHash(event)]
}

/** The event moved onto another parent (and version); what is derived from its payload carries over. */
export function rechained(event: WalletEvent, parentHash: string, schemaVersion: number): WalletEvent {
  if (event.parentHash === parentHash && event.schemaVersion === schemaVersion) return event
  return { ...event, parentHash, schemaVersion }
}
