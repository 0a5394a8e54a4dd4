import { describe, expect, it } from 'vitest'
import { RegistrationDifficulty } from '../../src/clients/auth/RegistrationDifficulty.js'

describe('RegistrationDifficulty', () => {
  it('rises by a bit per doubling of a burst of registrations and falls back when it calms', () => {
    const clock = { now: 0 }
    const d = new RegistrationDifficulty(
      { baseBits: 10, calmPerWindow: 4, windowMs: 60_000, maxExtraBits: 3 },
      () => clock.now,
    )
    expect(d.current()).toBe(10)
    for (let i = 0; i < 4; i++) d.record()
    expect(d.current()).toBe(10)
    for (let i = 0; i < 4; i++) d.record()
    expect(d.current()).toBe(11) // 8 in the window: twice the calm rate
    for (let i = 0; i < 8; i++) d.record()
    expect(d.current()).toBe(12) // 16: four times
    for (let i = 0; i < 100; i++) d.record()
    expect(d.current()).toBe(13) // capped
    clock.now += 61_000
    expect(d.current()).toBe(10)
  })

  it('asks nothing when registration needs no proof of work', () => {
    const d = new RegistrationDifficulty({ baseBits: 0, calmPerWindow: 1, windowMs: 1000, maxExtraBits: 8 })
    for (let i = 0; i < 50; i++) d.record()
    expect(d.current()).toBe(0)
  })
})
