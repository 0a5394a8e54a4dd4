import type { HealthReport } from '../api/schemas/Health.js'
import type { FollowerSnapshot } from '../chain/follower/Follower.js'
import type { EndpointStatus } from '../chain/rpc/RpcClient.js'
import type { PrunerStatus } from '../clients/lifecycle/ClientPruner.js'
import type { ChainPosition } from '../delivery/deliveryStore.js'
import type { TraceSource } from '../delivery/InternalTransfers.js'
import type { FailedTask, TaskProgress } from '../lifecycle/BackgroundTasks.js'
import type { LifecycleSnapshot } from '../lifecycle/Lifecycle.js'
import type { Role } from '../lifecycle/leadership/LeaderElection.js'

/** The states of the service's parts that `/health` reports, read at one moment. */
export type ServiceState = {
  lifecycle: LifecycleSnapshot
  version: string
  uptimeSeconds: number
  /** Embedded anvil, or nodes of the operator's. */
  nodeMode: 'embedded' | 'external'
  /** Undefined until a node answered with its chain id. */
  node: { chainId: number; available: boolean; endpoints: EndpointStatus[] } | undefined
  storage: {
    driver: 'pglite' | 'postgres'
    /** Whether it was opened at all. */
    opened: boolean
    /** What is wrong with it right now, if anything. */
    problem: string | undefined
  }
  /** Where the chain is, as the follower (leader) or the leadership row (standby) says. */
  position: ChainPosition
  /** The follower's own view, while this instance leads. */
  follower: FollowerSnapshot | undefined
  /** Where internal transfers come from, once this instance has led. */
  traces: TraceSource | undefined
  /** Undefined until the election started. */
  election: { role: Role; holder: string; lastError: string | undefined } | undefined
  background: TaskProgress[]
  /** Background work that gave up recently. */
  failedBackground: FailedTask[]
  /** The pruner's last pass, while this instance leads. */
  pruner: PrunerStatus | undefined
}

/** The `/health` report: a function of the parts' states only, so what it says can be tested alone. */
export function healthReport(s: ServiceState): HealthReport {
  const { state, since, reason } = s.lifecycle
  const chain = s.follower
  return {
    state,
    since,
    ...(reason ? { reason } : {}),
    version: s.version,
    uptimeSeconds: s.uptimeSeconds,
    node: {
      mode: s.nodeMode,
      ...(s.node ? { chainId: s.node.chainId } : {}),
      available: s.node?.available ?? false,
      endpoints: s.node?.endpoints ?? [],
    },
    storage: { driver: s.storage.driver, available: s.storage.opened && s.storage.problem === undefined },
    ...(s.position.head ? { head: s.position.head } : {}),
    ...(chain?.safe ? { safe: chain.safe } : {}),
    ...(chain?.finalized ? { finalized: chain.finalized } : {}),
    ...(chain
      ? {
          chain: {
            nodeHead: chain.nodeHead,
            receiptsSource: chain.receiptsSource,
            unknownTransactionTypes: chain.unknownTransactionTypes,
            ...(chain.unverifiedBlocks > 0
              ? { unverifiedBlocks: chain.unverifiedBlocks, lastUnverified: chain.lastUnverified }
              : {}),
            ...(s.traces ? { traces: s.traces } : {}),
            ...(chain.alarm ? { alarm: chain.alarm } : {}),
            ...(chain.lastError ? { lastError: chain.lastError } : {}),
          },
        }
      : {}),
    ...(s.election ? { leadership: leadershipOf(s.election) } : {}),
    background: s.background,
    ...(s.failedBackground.length > 0 ? { failedBackground: s.failedBackground } : {}),
    ...(s.pruner ? { pruner: s.pruner } : {}),
  }
}

function leadershipOf(election: NonNullable<ServiceState['election']>): HealthReport['leadership'] {
  const { role, holder, lastError } = election
  const known = role.kind === 'standby' ? role.leader : undefined
  return {
    role: role.kind,
    holder,
    ...(role.kind === 'leader' ? { term: role.term } : {}),
    ...(known ? { term: known.term, ...(known.url ? { leaderUrl: known.url } : {}) } : {}),
    ...(lastError ? { lastError } : {}),
  }
}
