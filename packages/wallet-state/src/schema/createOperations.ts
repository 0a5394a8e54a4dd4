import { InvalidEventError } from '../errors.js'
import { compareEventToStamp, fullStamp, hashEvent } from '../eventHash.js'
import type { Collection, Stamp, WalletEvent, WalletState } from '../types.js'

/** How an event type changes the state: put or delete an item of a collection, or replace settings. */
export type EventRule =
  | { kind: 'put'; collection: Collection; key: (payload: Record<string, unknown>) => string }
  | { kind: 'delete'; collection: Collection; key: (payload: Record<string, unknown>) => string }
  | { kind: 'settings' }

export type SchemaOperations = Readonly<{
  schemaVersion: number
  eventTypes: readonly string[]
  rules: Readonly<Record<string, EventRule>>
  /** The collections this version's state has. */
  collections: readonly Collection[]
  /** An empty state of this version whose first event's parent is `tipHash`. */
  initState(tipHash: string): WalletState
  /** The event moved onto `parentHash` and raised to this version (which contains the older rules). */
  reparent(event: WalletEvent, parentHash: string): WalletEvent
  /** (S, E) => S; S.schemaVersion becomes E.schemaVersion. */
  reduce(state: WalletState, event: WalletEvent): WalletState
  /** Like reduce, but changes `draft` in place: replaying many events costs one copy, not one per event. */
  applyInPlace(draft: WalletState, event: WalletEvent): void
  /** Throws InvalidEventError unless the event's type and payload are well-formed. */
  validate(event: WalletEvent): void
  /** The stamp `state` holds for the event's item — of the item, its tombstone, or the settings. */
  heldStamp(state: WalletState, event: WalletEvent): Stamp | undefined
  /** The (collection, id) an event is about: the key its stamp competes for. */
  subject(event: WalletEvent): string
  hashEvent(event: WalletEvent): string
}>

export const stampOf = (event: WalletEvent): Stamp => [event.timestampSeconds, event.eventId]

/** Orders stamps by time, then eventId, then content hash (an absent one — fold format 1 — first). */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a[0] !== b[0]) return a[0] - b[0]
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1
  const x = a[2] ?? ''
  const y = b[2] ?? ''
  return x < y ? -1 : x > y ? 1 : 0
}

/** A copy of the state deep enough that applying events to it leaves the original untouched. */
export function cloneState(state: WalletState): WalletState {
  return {
    ...state,
    credentials: { ...state.credentials },
    keypairs: { ...state.keypairs },
    presentations: { ...state.presentations },
    credentialIssuanceSessions: { ...state.credentialIssuanceSessions },
    ...(state.contractInterests ? { contractInterests: { ...state.contractInterests } } : {}),
    ...(state.addressBook ? { addressBook: { ...state.addressBook } } : {}),
    settings: { ...state.settings },
    tombstones: { ...state.tombstones },
    fold: state.fold.format === 2 ? state.fold : { ...state.fold, recent: [...state.fold.recent] },
  }
}

export function idField(field: string) {
  return (payload: Record<string, unknown>): string => {
    const id = payload[field]
    if (typeof id !== 'string' || id === '')
      throw new InvalidEventError(`payload.${field} must be a non-empty string`)
    return id
  }
}

/**
 * Builds the function suite of one schema version from its event rules. Later versions pass the
 * earlier rules plus their own, so unchanged behaviour is shared rather than copied.
 */
export function createOperations(schemaVersion: number, rules: Record<string, EventRule>): SchemaOperations {
  const ruleFor = (event: WalletEvent): EventRule => {
    const rule = rules[event.type]
    if (!rule)
      throw new InvalidEventError(`unknown event type "${event.type}" in schema version ${schemaVersion}`)
    return rule
  }
  const subject = (event: WalletEvent): string => {
    const rule = ruleFor(event)
    return rule.kind === 'settings' ? 'settings' : `${rule.collection}:${rule.key(event.payload)}`
  }
  const settingsOf = (event: WalletEvent): Record<string, unknown> => {
    const settings = event.payload.settings
    if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
      throw new InvalidEventError('payload.settings must be an object')
    }
    return settings as Record<string, unknown>
  }
  const heldStamp = (state: WalletState, event: WalletEvent): Stamp | undefined => {
    const rule = ruleFor(event)
    if (rule.kind === 'settings') return state.settings.stamp ?? undefined
    const id = rule.key(event.payload)
    return state[rule.collection]?.[id]?.stamp ?? state.tombstones[`${rule.collection}:${id}`]
  }
  const applyInPlace = (draft: WalletState, event: WalletEvent): void => {
    const rule = ruleFor(event)
    let stamp: Stamp
    if (draft.fold.format === 2) {
      // Last writer wins: the state is a function of the set of events, whatever their order.
      const held = heldStamp(draft, event)
      draft.schemaVersion = Math.max(draft.schemaVersion, event.schemaVersion)
      if (held !== undefined && compareEventToStamp(event, held) <= 0) return
      stamp = fullStamp(event)
    } else {
      // Fold format 1 replays in log order, as the builds that wrote it did.
      stamp = stampOf(event)
      draft.schemaVersion = event.schemaVersion
    }
    if (rule.kind === 'settings') {
      draft.settings = { values: { ...settingsOf(event) }, stamp }
      return
    }
    const id = rule.key(event.payload)
    const collection = draft[rule.collection] ?? {}
    draft[rule.collection] = collection
    if (rule.kind === 'put') {
      collection[id] = { value: { ...event.payload }, stamp }
      delete draft.tombstones[`${rule.collection}:${id}`]
    } else {
      delete collection[id]
      draft.tombstones[`${rule.collection}:${id}`] = stamp
    }
  }
  const collections = Object.freeze([
    ...new Set(Object.values(rules).flatMap((rule) => (rule.kind === 'settings' ? [] : [rule.collection]))),
  ])
  return Object.freeze({
    schemaVersion,
    eventTypes: Object.freeze(Object.keys(rules)),
    rules: Object.freeze({ ...rules }),
    collections,
    initState(tipHash: string): WalletState {
      const state: WalletState = {
        schemaVersion,
        credentials: {},
        keypairs: {},
        presentations: {},
        credentialIssuanceSessions: {},
        settings: { values: {}, stamp: null },
        tombstones: {},
        fold: { tipHash, count: 0, recent: [tipHash] },
      }
      for (const collection of collections) state[collection] = {}
      return state
    },
    reparent: (event: WalletEvent, parentHash: string): WalletEvent => ({
      ...event,
      schemaVersion,
      parentHash,
    }),
    subject,
    hashEvent,
    heldStamp,
    reduce(state: WalletState, event: WalletEvent): WalletState {
      const draft = cloneState(state)
      applyInPlace(draft, event)
      return draft
    },
    applyInPlace,
    validate(event: WalletEvent): void {
      const rule = ruleFor(event)
      if (rule.kind === 'settings') settingsOf(event)
      else rule.key(event.payload)
    },
  })
}
