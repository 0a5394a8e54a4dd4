import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export type CrashRecord = {
  time: string
  error: { name: string; message: string; code?: unknown; stack?: string }
  [section: string]: unknown
}

/**
 * Writes a diagnostic record of a crash into `<dataDir>/crash/` and returns its path. Synchronous on
 * purpose: it runs on the way out of a dying process, where nothing asynchronous can be trusted.
 */
export function writeCrashRecord(dataDir: string, error: unknown, context: Record<string, unknown>): string {
  const time = new Date().toISOString()
  const record: CrashRecord = {
    time,
    error:
      error instanceof Error
        ? {
            name: error.name,
            message: error.message,
            code: (error as { code?: unknown }).code,
            stack: error.stack,
          }
        : { name: 'NonError', message: String(error) },
    pid: process.pid,
    node: process.version,
    memory: process.memoryUsage(),
    ...context,
  }
  const dir = join(dataDir, 'crash')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const path = join(dir, `crash-${time.replace(/[:.]/g, '-')}-${process.pid}.json`)
  // Crash records carry configuration and recent errors: for the operator only.
  writeFileSync(path, JSON.stringify(record, null, 2), { mode: 0o600 })
  return path
}
