import { pino } from 'pino'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { InvalidTransitionError, Lifecycle } from '../../src/lifecycle/Lifecycle.js'

function lifecycle() {
  const metrics = new Registry()
  return { lifecycle: new Lifecycle({ logger: pino({ level: 'silent' }), metrics }), metrics }
}

describe('Lifecycle', () => {
  it('follows the allowed path and counts every transition', async () => {
    const { lifecycle: l, metrics } = lifecycle()
    const seen: string[] = []
    l.onChange((snapshot, from) => seen.push(`${from}>${snapshot.state}`))
    l.transition('connecting', 'node')
    l.transition('catching-up', 'behind')
    l.transition('live', 'caught up')
    l.transition('degraded', 'node lost')
    l.transition('live', 'node back')
    l.transition('draining', 'SIGTERM')
    l.transition('stopped', 'done')
    expect(seen).toEqual([
      'starting>connecting',
      'connecting>catching-up',
      'catching-up>live',
      'live>degraded',
      'degraded>live',
      'live>draining',
      'draining>stopped',
    ])
    const text = await metrics.metrics()
    expect(text).toMatch(/wallet_backend_lifecycle_transitions_total\{from="live",to="degraded"\} 1/)
    expect(text).toMatch(/wallet_backend_lifecycle_state\{state="stopped"\} 1/)
    expect(text).toMatch(/wallet_backend_lifecycle_state\{state="live"\} 0/)
  })

  it('refuses transitions the state machine does not have', () => {
    const { lifecycle: l } = lifecycle()
    expect(() => l.transition('live', 'skip')).toThrow(InvalidTransitionError)
    l.transition('connecting', 'x')
    l.transition('draining', 'stop')
    expect(l.tryTransition('live', 'late node up')).toBe(false)
    expect(l.state).toBe('draining')
  })

  it('waitFor resolves on the awaited state', async () => {
    const { lifecycle: l } = lifecycle()
    const waiting = l.waitFor('live')
    l.transition('connecting', 'x')
    l.transition('live', 'y')
    await expect(waiting).resolves.toMatchObject({ state: 'live', reason: 'y' })
  })
})
