import { canonicalize } from './canonicalize.js'
import { sha256Hex } from './hash.js'
import type { Stamp, WalletEvent } from './types.js'

// Events are immutable once made, so what is derived from them is cached per object: re-chaining
// a merged log changes only parentHash, and the payload — nearly all of an event's bytes — is
// serialised once however often the event is hashed.
const payloadJson = new WeakMap<object, string>()
const eventHashes = new WeakMap<WalletEvent, string>()
const contentHashes = new WeakMap<WalletEvent, string>()

const EVENT_KEYS = new Set(['eventId', 'parentHash', 'payload', 'schemaVersion', 'timestampSeconds', 'type'])

function canonicalPayload(event: WalletEvent): string {
  let json = payloadJson.get(event.payload)
  if (json === undefined) {
    json = canonicalize(event.payload)
    payloadJson.set(event.payload, json)
  }
  return json
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
  let hash = contentHashes.get(event)
  if (hash !== undefined) return hash
  hash = sha256Hex(
    `{"eventId":${JSON.stringify(event.eventId)},"payload":${canonicalPayload(event)},"timestampSeconds":${JSON.stringify(event.timestampSeconds)},"type":${JSON.stringify(event.type)}}`,
  )
  contentHashes.set(event, hash)
  return hash
}

/**
 * Orders events by stamp: time, eventId, then content hash — computed only when time and id tie,
 * and not at all for two copies of one chain link.
 */
export function compareEvents(x: WalletEvent, y: WalletEvent): number {
  if (x.timestampSeconds !== y.timestampSeconds) return x.timestampSeconds - y.timestampSeconds
  if (x.eventId !== y.eventId) return x.eventId < y.eventId ? -1 : 1
  if (x === y || hashEvent(x) === hashEvent(y)) return 0
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

/** The event moved onto another parent (and version); its identity, already known, carries over. */
export function rechained(event: WalletEvent, parentHash: string, schemaVersion: number): WalletEvent {
  if (event.parentHash === parentHash && event.schemaVersion === schemaVersion) return event
  const moved = { ...event, parentHash, schemaVersion }
  const content = contentHashes.get(event)
  if (content !== undefined) contentHashes.set(moved, content)
  return moved
}
