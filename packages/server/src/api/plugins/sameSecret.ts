import { timingSafeEqual } from 'node:crypto'

/**
 * Whether `given` (from a request: the attacker's) equals `secret`, in time that does not depend on
 * where they differ. Only the length leaks, and secrets here have a fixed length.
 */
export function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(secret)
  return a.length === b.length && timingSafeEqual(a, b)
}
