import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { writeCrashRecord } from '../../src/lifecycle/writeCrashRecord.js'

it('writes the error, state and context into the crash folder of the data directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wb-crash-'))
  try {
    const error = Object.assign(new Error('boom'), { code: 'E_BOOM' })
    const path = writeCrashRecord(dir, error, {
      health: { state: 'live' },
      recentErrors: [{ msg: 'before' }],
    })
    expect(readdirSync(join(dir, 'crash'))).toHaveLength(1)
    const record = JSON.parse(readFileSync(path, 'utf8'))
    expect(record.error).toMatchObject({ name: 'Error', message: 'boom', code: 'E_BOOM' })
    expect(record.error.stack).toContain('boom')
    expect(record.health).toEqual({ state: 'live' })
    expect(record.recentErrors).toEqual([{ msg: 'before' }])
    expect(record.pid).toBe(process.pid)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
