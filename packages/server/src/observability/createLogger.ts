import { type DestinationStream, type Logger, pino } from 'pino'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type RecentError = { time: string; msg: string; err?: unknown }

export type LoggerHandle = {
  logger: Logger
  /** Sets the level of the root logger and of every child logger made from it, at runtime. */
  setLevel(level: LogLevel): void
  /** The last warnings and errors, newest last, for crash records and /admin. */
  recentErrors(): RecentError[]
}

const RECENT_ERRORS = 50

/**
 * Structured JSON logs (pino) with a small in-memory ring of the latest warnings and errors, so a
 * crash record can say what went wrong just before the crash.
 */
export function createLogger(options: { level: LogLevel; destination?: DestinationStream }): LoggerHandle {
  const recent: RecentError[] = []
  // pino children copy their level when created and do not follow the parent later; long-lived
  // component loggers must follow a runtime level change too, so every child is remembered weakly.
  let children: WeakRef<Logger>[] = []
  let pruneAt = 1024
  const logger: Logger = pino(
    {
      level: options.level,
      base: { service: 'wallet-backend' },
      timestamp: pino.stdTimeFunctions.isoTime,
      onChild(child) {
        children.push(new WeakRef(child))
        if (children.length >= pruneAt) {
          children = children.filter((ref) => ref.deref() !== undefined)
          pruneAt = Math.max(1024, children.length * 2)
        }
      },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method, level) {
          if (level >= 40) {
            const [first, second] = args as unknown[]
            const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : ''
            const err = typeof first === 'object' && first !== null ? serializeError(first) : undefined
            recent.push({ time: new Date().toISOString(), msg, ...(err ? { err } : {}) })
            if (recent.length > RECENT_ERRORS) recent.shift()
          }
          method.apply(this, args as Parameters<typeof method>)
        },
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  )
  const setLevel = (level: LogLevel): void => {
    logger.level = level
    for (const ref of children) {
      const child = ref.deref()
      if (child) child.level = level
    }
  }
  return { logger, setLevel, recentErrors: () => [...recent] }
}

function serializeError(value: object): unknown {
  const err = (value as { err?: unknown }).err ?? value
  if (err instanceof Error)
    return { name: err.name, message: err.message, code: (err as { code?: unknown }).code }
  return undefined
}
