import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'
import { BaseError } from '../errors/BaseError.js'

export const LIFECYCLE_STATES = [
  'starting',
  'connecting',
  'catching-up',
  'live',
  'degraded',
  'draining',
  'stopped',
] as const
export type LifecycleState = (typeof LIFECYCLE_STATES)[number]

/** Allowed transitions; anything else is a bug in the caller, not a state the service can be in. */
const NEXT: Record<LifecycleState, readonly LifecycleState[]> = {
  starting: ['connecting', 'draining'],
  connecting: ['catching-up', 'live', 'degraded', 'draining'],
  'catching-up': ['live', 'degraded', 'draining'],
  live: ['catching-up', 'degraded', 'draining'],
  degraded: ['connecting', 'catching-up', 'live', 'draining'],
  draining: ['stopped'],
  stopped: [],
}

export class InvalidTransitionError extends BaseError {
  override readonly name = 'InvalidTransitionError'
  constructor(from: LifecycleState, to: LifecycleState) {
    super('LIFECYCLE_INVALID_TRANSITION', `Lifecycle cannot go from ${from} to ${to}`)
  }
}

export type LifecycleSnapshot = { state: LifecycleState; since: string; reason: string | undefined }

/**
 * The service's lifecycle state machine (docs/architecture.md, Lifecycle). Every transition is logged with its reason,
 * counted in metrics and announced to listeners.
 */
export class Lifecycle {
  #state: LifecycleState = 'starting'
  #since = new Date()
  #reason: string | undefined = 'process started'
  readonly #logger: Logger
  readonly #listeners = new Set<(snapshot: LifecycleSnapshot, from: LifecycleState) => void>()
  readonly #transitions: Counter<'from' | 'to'>
  readonly #stateGauge: Gauge<'state'>

  constructor(options: { logger: Logger; metrics: Registry }) {
    this.#logger = options.logger.child({ component: 'lifecycle' })
    this.#transitions = new Counter({
      name: 'wallet_backend_lifecycle_transitions_total',
      help: 'Lifecycle state transitions',
      labelNames: ['from', 'to'],
      registers: [options.metrics],
    })
    this.#stateGauge = new Gauge({
      name: 'wallet_backend_lifecycle_state',
      help: 'Current lifecycle state (1 for the current state, 0 for the others)',
      labelNames: ['state'],
      registers: [options.metrics],
    })
    this.#publishGauge()
  }

  get state(): LifecycleState {
    return this.#state
  }

  snapshot(): LifecycleSnapshot {
    return { state: this.#state, since: this.#since.toISOString(), reason: this.#reason }
  }

  /** Whether `to` may follow the current state. */
  can(to: LifecycleState): boolean {
    return NEXT[this.#state].includes(to)
  }

  /** Moves to `to`; a move to the current state only updates the reason. */
  transition(to: LifecycleState, reason: string): void {
    const from = this.#state
    if (from === to) {
      if (reason !== this.#reason) {
        this.#reason = reason
        this.#logger.info({ state: to, reason }, `still ${to}: ${reason}`)
      }
      return
    }
    if (!this.can(to)) throw new InvalidTransitionError(from, to)
    this.#state = to
    this.#since = new Date()
    this.#reason = reason
    this.#transitions.inc({ from, to })
    this.#publishGauge()
    const level = to === 'degraded' ? 'warn' : 'info'
    this.#logger[level]({ from, to, reason }, `lifecycle ${from} → ${to}: ${reason}`)
    const snapshot = this.snapshot()
    for (const listener of this.#listeners) listener(snapshot, from)
  }

  /** Like transition, but a no-op where the move is not allowed (e.g. a late "node up" while draining). */
  tryTransition(to: LifecycleState, reason: string): boolean {
    if (this.#state !== to && !this.can(to)) return false
    this.transition(to, reason)
    return true
  }

  onChange(listener: (snapshot: LifecycleSnapshot, from: LifecycleState) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Resolves when the state is one of `states`. */
  waitFor(...states: LifecycleState[]): Promise<LifecycleSnapshot> {
    if (states.includes(this.#state)) return Promise.resolve(this.snapshot())
    return new Promise((resolve) => {
      const off = this.onChange((snapshot) => {
        if (states.includes(snapshot.state)) {
          off()
          resolve(snapshot)
        }
      })
    })
  }

  #publishGauge(): void {
    for (const state of LIFECYCLE_STATES) this.#stateGauge.set({ state }, state === this.#state ? 1 : 0)
  }
}
