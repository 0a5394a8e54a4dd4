import { AsyncLocalStorage } from 'node:async_hooks'

const urgency = new AsyncLocalStorage<true>()

/**
 * Runs `work` with its statements ahead of the others waiting for PGlite's one connection (on
 * PostgreSQL, which has a pool, it just runs): opening a stream, or feeding the open ones, reads a
 * few rows, and waiting behind every statement of a crowd signing in would hold wallets' streams
 * for as long as the crowd takes. Only for short work: what runs urgently delays everything else.
 */
export const urgently = <T>(work: () => Promise<T>): Promise<T> => urgency.run(true, work)

/** Whether the caller runs inside `urgently`. */
export const isUrgent = (): boolean => urgency.getStore() === true
