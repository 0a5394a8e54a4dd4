import type { LeaderRuntime, Runtime, SharedRuntime } from '../api/AppContext.js'
import { NoLeaderError } from '../lifecycle/leadership/errors.js'

const LEADER_PARTS: readonly (keyof LeaderRuntime)[] = [
  'follower',
  'filters',
  'accounts',
  'accountBackfills',
  'delivery',
  'queue',
  'backfills',
  'contractState',
  'submissions',
]

/**
 * A standby's runtime: what it serves itself, and the leader's parts as getters that refuse. Routes
 * that need them are forwarded to the leader before they run; reaching one here is a route that
 * forgot to say so, answered with a 503 rather than with an index this instance does not keep.
 */
export function standbyRuntime(shared: SharedRuntime): Runtime {
  const runtime = { ...shared } as Runtime
  for (const part of LEADER_PARTS) {
    Object.defineProperty(runtime, part, {
      get() {
        throw new NoLeaderError(`this instance stands by, and ${part} lives on the leader`)
      },
    })
  }
  return runtime
}
