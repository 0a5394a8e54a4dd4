import {
  compareStamps,
  currentState,
  eventStamp,
  operationsFor,
  type Stamp,
  type WalletEvent,
  type WalletStateContainer,
} from '../src/index.js'

/**
 * What a wallet must hold after every edit in `events` reached it, worked out on its own: per item
 * (a deletion being a stamp too) and for the settings, the event with the latest stamp wins.
 * Items are keyed `<collection>:<id>`.
 */
export function latestStampModel(events: readonly WalletEvent[]) {
  const latest = new Map<string, { stamp: Stamp; event: WalletEvent }>()
  for (const event of events) {
    const subject = operationsFor(event.schemaVersion).subject(event)
    const stamp = eventStamp(event)
    const held = latest.get(subject)
    if (!held || compareStamps(stamp, held.stamp) > 0) latest.set(subject, { stamp, event })
  }
  const items: Record<string, unknown> = {}
  let settings: unknown = {}
  for (const [subject, { event }] of latest) {
    const rule = operationsFor(event.schemaVersion).rules[event.type]!
    if (rule.kind === 'settings') settings = event.payload.settings
    else if (rule.kind === 'put') items[subject] = event.payload
  }
  return { items, settings }
}

/** The container's current state in the model's terms. */
export function observedState(container: WalletStateContainer) {
  const state = currentState(container)
  const items: Record<string, unknown> = {}
  for (const collection of operationsFor(state.schemaVersion).collections) {
    for (const [id, item] of Object.entries(state[collection] ?? {}))
      items[`${collection}:${id}`] = item.value
  }
  return { items, settings: state.settings.values }
}
