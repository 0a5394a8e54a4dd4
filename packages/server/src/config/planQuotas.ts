/**
 * The quotas a plan sets, declared once: the built-in `default` plan takes its values from here,
 * and each quota has a flag (and environment variable, and config-file key) that is a shorthand
 * for setting it in the default plan. The names are those of the `plans` setting, of the admin
 * API and of GET /v1/usage.
 */
export const PLAN_QUOTA_TABLE = {
  interests: {
    key: 'maxInterestsPerClient',
    flag: 'max-interests-per-client',
    description: 'Contracts one client may be interested in.',
    default: 100,
    min: 1,
    max: 100_000,
  },
  accounts: {
    key: 'maxAccountsPerClient',
    flag: 'max-accounts-per-client',
    description: 'Addresses one client may follow the activity of (account interests).',
    default: 20,
    min: 1,
    max: 100_000,
  },
  filtersPerInterest: {
    key: 'maxFiltersPerInterest',
    flag: 'max-filters-per-interest',
    description: 'Filters on one interest.',
    default: 16,
    min: 1,
    max: 1000,
  },
  watchesPerInterest: {
    key: 'maxWatchesPerInterest',
    flag: 'max-watches-per-interest',
    description:
      'Contract-state watches on one interest (each costs the node a read of the contract at every block).',
    default: 16,
    min: 0,
    max: 1000,
  },
  filterCost: {
    key: 'maxFilterCostPerClient',
    flag: 'max-filter-cost-per-client',
    description:
      "Filter complexity one client may install: the sum of its filters' costs (all 2, logs 1 + constrained topics, calls 1, transfers 2, value 1).",
    default: 1_000,
    min: 1,
    max: 10_000_000,
  },
  backlogItems: {
    key: 'maxBacklogItems',
    flag: 'max-backlog-items',
    description:
      'Items queued for one client and not acknowledged; a client above it goes dormant (no more matching) until it acknowledges, then gets a gap item.',
    default: 100_000,
    min: 10,
    max: 100_000_000,
  },
  backlogBytes: {
    key: 'maxBacklogBytes',
    flag: 'max-backlog-bytes',
    description: 'Bytes queued for one client and not acknowledged; above it, as for max-backlog-items.',
    default: 64 * 1024 * 1024,
    min: 1024,
    max: 1024 ** 4,
  },
  walletStateBytes: {
    key: 'walletStateMaxBytes',
    flag: 'wallet-state-max-bytes',
    description: 'Largest encrypted wallet state a client may store; larger writes are answered 413.',
    default: 1_048_576,
    min: 1024,
    max: 100 * 1024 * 1024,
  },
  costPerSecond: {
    key: 'clientCostPerSecond',
    flag: 'client-cost-per-second',
    description:
      'Cost units a client may spend per second, sustained (see --request-costs for what a request costs).',
    default: 20,
    min: 1,
    max: 1_000_000,
  },
  costBurst: {
    key: 'clientCostBurst',
    flag: 'client-cost-burst',
    description:
      'Cost a client may accumulate: above half of it requests are slowed down, above it refused with 429.',
    default: 400,
    min: 10,
    max: 100_000_000,
  },
  streams: {
    key: 'maxStreamsPerClient',
    flag: 'max-streams-per-client',
    description: 'WebSocket streams one client may hold open at once (per instance).',
    default: 4,
    min: 1,
    max: 1000,
  },
  backfillBlocks: {
    key: 'maxBackfillBlocksPerClient',
    flag: 'max-backfill-blocks-per-client',
    description:
      "Blocks of history one client's back-fills may have outstanding at once (from an interest's startBlock to the head, summed over its unfinished back-fills); an interest asking for more is refused with 409 BACKFILL_TOO_LARGE.",
    default: 1_000_000,
    min: 0,
    max: 100_000_000,
  },
} as const

export type PlanQuota = keyof typeof PLAN_QUOTA_TABLE
export type PlanLimits = Record<PlanQuota, number>

export const PLAN_QUOTAS = Object.keys(PLAN_QUOTA_TABLE) as PlanQuota[]

/** The built-in default plan, before the shorthand settings or the `plans` setting change it. */
export const BUILT_IN_DEFAULT_PLAN = Object.fromEntries(
  PLAN_QUOTAS.map((quota) => [quota, PLAN_QUOTA_TABLE[quota].default]),
) as PlanLimits
