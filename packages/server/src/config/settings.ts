import { redactRpcUrl } from '../chain/rpc/redactRpcUrl.js'
import type { LogLevel } from '../observability/createLogger.js'
import { LOG_LEVELS } from '../observability/createLogger.js'
import { ConfigError } from './ConfigError.js'
import { type PlanOverrides, parsePlans } from './parsePlans.js'
import { DEFAULT_REQUEST_COSTS, parseRequestCosts, type RequestCosts } from './parseRequestCosts.js'

/**
 * Every setting of the service, declared once. The CLI's flags, the environment variables, the
 * config-file keys, `--help` and docs/configuration.md all come from this table, so they cannot
 * drift apart.
 */
export type Config = {
  host: string
  port: number
  dataDir: string
  databaseUrl: string | undefined
  advertiseUrl: string | undefined
  publicUrl: string | undefined
  leaderRetryMs: number
  databasePoolSize: number
  nodeUrls: string[]
  anvilBlockTimeSeconds: number
  rpcTimeoutMs: number
  pollIntervalMs: number
  headPolling: 'adaptive' | 'fixed'
  startBlock: number | 'latest'
  confirmations: number
  catchUpBatchSize: number
  retainFinalizedBlocks: number
  sessionTtlSeconds: number
  sessionMaxLifetimeSeconds: number
  maxSessionsPerClient: number
  registrationPowBits: number
  maxInterestsPerClient: number
  maxAccountsPerClient: number
  maxFiltersPerInterest: number
  maxWatchesPerInterest: number
  maxFilterCostPerClient: number
  maxBacklogItems: number
  maxBacklogBytes: number
  maxBackfillBlocksPerClient: number
  backfillCallsPerCostUnit: number
  stateReadsPerCostUnit: number
  plans: PlanOverrides
  requestCosts: RequestCosts
  clientCostPerSecond: number
  filterWorkPerCostUnit: number
  clientCostBurst: number
  subnetCostPerSecond: number
  subnetCostBurst: number
  streamBacklogBytes: number
  maxStreamsPerClient: number
  maxStreamsPerSubnet: number
  maxConnectionsPerIp: number
  wsMaxMessageBytes: number
  registrationCalmPerMinute: number
  dormantAfterSeconds: number
  absentAfterSeconds: number
  dormantAbsentBacklogItems: number
  dormantAbsentWork: number
  pruneAfterSeconds: number
  walletStateRetentionSeconds: number
  pruneIntervalMs: number
  deploymentSweepMs: number
  maxRawTransactionBytes: number
  submissionTtlMs: number
  submissionRebroadcastMs: number
  submissionCheckMs: number
  maxPendingSubmissionsPerClient: number
  walletStateMaxBytes: number
  walletStateVersionsKept: number
  walletStateWriteBytesPerCostUnit: number
  logLevel: LogLevel
  adminToken: string | undefined
  adminAuthFailuresPerMinute: number
  bodyLimitBytes: number
  requestTimeoutMs: number
  shutdownTimeoutMs: number
}

export type SettingKey = keyof Config

export type Setting<K extends SettingKey = SettingKey> = {
  key: K
  /** `--kebab-case` flag of `wallet-backend start`. */
  flag: string
  /** `WALLET_BACKEND_*` environment variable. */
  env: string
  description: string
  /** What is allowed, in words, for `--help` and error messages. */
  allowed: string
  default: Config[K]
  /** How the value is shown in logs and crash records, where it must not leak secrets. */
  redact?(value: Config[K]): unknown
  parse(raw: unknown): Config[K]
}

const integer =
  (min: number, max: number) =>
  (raw: unknown): number => {
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(`expected an integer from ${min} to ${max}`)
    }
    return value
  }

const text =
  (pattern?: RegExp) =>
  (raw: unknown): string => {
    if (typeof raw !== 'string' || raw === '') throw new TypeError('expected a non-empty string')
    if (pattern && !pattern.test(raw)) throw new TypeError(`does not match ${pattern}`)
    return raw
  }

const optionalText =
  (check: (value: string) => void) =>
  (raw: unknown): string | undefined => {
    if (raw === undefined || raw === '') return undefined
    if (typeof raw !== 'string') throw new TypeError('expected a string')
    check(raw)
    return raw
  }

function checkUrl(value: string, protocols: string[]): void {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError(`"${redactUrl(value)}" is not a URL`)
  }
  if (!protocols.includes(url.protocol)) {
    throw new TypeError(`"${redactUrl(value)}" must use ${protocols.map((p) => p.slice(0, -1)).join(' or ')}`)
  }
}

function checkOrigin(value: string): void {
  checkUrl(value, ['http:', 'https:'])
  const url = new URL(value)
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new TypeError(
      `"${redactUrl(value)}" must be an origin only (scheme, host, port), like ${url.origin}`,
    )
  }
}

/** Hides passwords and query strings (API keys of hosted nodes live there) before a URL is shown. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value)
    if (url.password) url.password = '***'
    if (url.search) url.search = '?***'
    return url.toString()
  } catch {
    return '<unparseable URL>'
  }
}

const nodeUrlList = (raw: unknown): string[] => {
  const items = typeof raw === 'string' ? raw.split(',') : raw
  if (!Array.isArray(items)) throw new TypeError('expected a comma-separated list of URLs')
  const urls = items
    .map((item) => (typeof item === 'string' ? item.trim() : item))
    .filter((item) => item !== '')
  for (const url of urls) {
    if (typeof url !== 'string') throw new TypeError('expected URLs as strings')
    checkUrl(url, ['http:', 'https:', 'ws:', 'wss:'])
  }
  return urls as string[]
}

function define<K extends SettingKey>(setting: Setting<K>): Setting<K> {
  return setting
}

export const SETTINGS = [
  define({
    key: 'host',
    flag: 'host',
    env: 'WALLET_BACKEND_HOST',
    description: 'Address the HTTP server binds to.',
    allowed: 'a host name or IP address',
    default: '127.0.0.1',
    parse: text(),
  }),
  define({
    key: 'port',
    flag: 'port',
    env: 'WALLET_BACKEND_PORT',
    description: 'TCP port of the HTTP server (0 picks a free one).',
    allowed: 'an integer from 0 to 65535',
    default: 8080,
    parse: integer(0, 65535),
  }),
  define({
    key: 'dataDir',
    flag: 'data-dir',
    env: 'WALLET_BACKEND_DATA_DIR',
    description:
      'Directory for the embedded database, the embedded node, the pinned chain id, the admin token and crash records. Created with mode 0700; an existing one that other users can enter is refused at start.',
    allowed: 'a directory path',
    default: '.data',
    parse: text(),
  }),
  define({
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'WALLET_BACKEND_DATABASE_URL',
    description: 'PostgreSQL server to use instead of the embedded PGlite database.',
    allowed: 'a postgres:// or postgresql:// URL, or empty for embedded PGlite',
    default: undefined,
    redact: (value) => (value === undefined ? undefined : redactUrl(value)),
    parse: optionalText((value) => checkUrl(value, ['postgres:', 'postgresql:'])),
  }),
  define({
    key: 'advertiseUrl',
    flag: 'advertise-url',
    env: 'WALLET_BACKEND_ADVERTISE_URL',
    description:
      'With several instances on one PostgreSQL database: the URL the other instances reach this one at when it leads (they forward writes that need the chain follower to it). By default the URL it listens on.',
    allowed: 'an http:// or https:// URL, or empty for the listening URL',
    default: undefined,
    parse: optionalText((value) => checkUrl(value, ['http:', 'https:'])),
  }),
  define({
    key: 'publicUrl',
    flag: 'public-url',
    env: 'WALLET_BACKEND_PUBLIC_URL',
    description:
      'The origin clients reach the service at (behind a proxy or load balancer, the public one): sign-in messages name it as their domain and URI, and a signed message for any other origin is refused. By default the URL it listens on, which fits local use only. Give every instance of a deployment the same one.',
    allowed: 'an http:// or https:// URL with no path, query or fragment, or empty for the listening URL',
    default: undefined,
    parse: optionalText(checkOrigin),
  }),
  define({
    key: 'leaderRetryMs',
    flag: 'leader-retry-ms',
    env: 'WALLET_BACKEND_LEADER_RETRY_MS',
    description:
      'With several instances on one PostgreSQL database: how often a standby tries to become the leader and reads where the chain is; also how often the leader checks its lock session.',
    allowed: 'an integer from 50 to 60000',
    default: 1_000,
    parse: integer(50, 60_000),
  }),
  define({
    key: 'databasePoolSize',
    flag: 'database-pool-size',
    env: 'WALLET_BACKEND_DATABASE_POOL_SIZE',
    description: 'Connections in the PostgreSQL pool.',
    allowed: 'an integer from 1 to 200',
    default: 10,
    parse: integer(1, 200),
  }),
  define({
    key: 'nodeUrls',
    flag: 'node-url',
    env: 'WALLET_BACKEND_NODE_URLS',
    description:
      'Ethereum JSON-RPC endpoints in priority order (failover). Empty: spawn an embedded anvil under the data directory.',
    allowed: 'comma-separated http(s):// or ws(s):// URLs (the flag may be repeated)',
    default: [],
    redact: (value) => value.map(redactRpcUrl),
    parse: nodeUrlList,
  }),
  define({
    key: 'anvilBlockTimeSeconds',
    flag: 'anvil-block-time',
    env: 'WALLET_BACKEND_ANVIL_BLOCK_TIME',
    description: 'Embedded anvil only: seconds between blocks; 0 mines a block for each transaction.',
    allowed: 'an integer from 0 to 3600',
    default: 0,
    parse: integer(0, 3600),
  }),
  define({
    key: 'rpcTimeoutMs',
    flag: 'rpc-timeout-ms',
    env: 'WALLET_BACKEND_RPC_TIMEOUT_MS',
    description: 'Timeout of one JSON-RPC call before the next node URL is tried.',
    allowed: 'an integer from 100 to 600000',
    default: 10_000,
    parse: integer(100, 600_000),
  }),
  define({
    key: 'pollIntervalMs',
    flag: 'poll-interval-ms',
    env: 'WALLET_BACKEND_POLL_INTERVAL_MS',
    description:
      'The longest wait between two head polls when the node offers no newHeads subscription; with adaptive head polling, how often a chain with no regular blocks is polled.',
    allowed: 'an integer from 50 to 600000',
    default: 1_000,
    parse: integer(50, 600_000),
  }),
  define({
    key: 'headPolling',
    flag: 'head-polling',
    env: 'WALLET_BACKEND_HEAD_POLLING',
    description:
      'Without newHeads: "adaptive" learns the block interval and polls in short steps (100 ms at most) only around the time the next block is due; "fixed" polls every --poll-interval-ms.',
    allowed: 'adaptive, fixed',
    default: 'adaptive',
    parse: (raw: unknown): 'adaptive' | 'fixed' => {
      if (raw !== 'adaptive' && raw !== 'fixed') throw new TypeError('expected adaptive or fixed')
      return raw
    },
  }),
  define({
    key: 'startBlock',
    flag: 'start-block',
    env: 'WALLET_BACKEND_START_BLOCK',
    description:
      'Where to start following on an empty database; history before it is reached through back-fills.',
    allowed: '"latest" or a block number',
    default: 'latest',
    parse: (raw: unknown): number | 'latest' =>
      raw === 'latest' ? 'latest' : integer(0, Number.MAX_SAFE_INTEGER)(raw),
  }),
  define({
    key: 'confirmations',
    flag: 'confirmations',
    env: 'WALLET_BACKEND_CONFIRMATIONS',
    description:
      'Finality for nodes without the safe/finalized block tags: a block this deep below the head counts as final.',
    allowed: 'an integer from 0 to 10000',
    default: 64,
    parse: integer(0, 10_000),
  }),
  define({
    key: 'catchUpBatchSize',
    flag: 'catch-up-batch-size',
    env: 'WALLET_BACKEND_CATCH_UP_BATCH_SIZE',
    description:
      'Blocks fetched per JSON-RPC batch while catching up (the next batch is fetched while one is stored).',
    allowed: 'an integer from 1 to 1000',
    default: 50,
    parse: integer(1, 1000),
  }),
  define({
    key: 'retainFinalizedBlocks',
    flag: 'retain-finalized-blocks',
    env: 'WALLET_BACKEND_RETAIN_FINALIZED_BLOCKS',
    description:
      'Canonical blocks kept below the finalized block; older ones, and abandoned ones, are pruned.',
    allowed: 'an integer from 0 to 100000000',
    default: 100_000,
    parse: integer(0, 100_000_000),
  }),
  define({
    key: 'sessionTtlSeconds',
    flag: 'session-ttl-seconds',
    env: 'WALLET_BACKEND_SESSION_TTL_SECONDS',
    description: 'Lifetime of a session token; POST /v1/auth/refresh renews it.',
    allowed: 'an integer from 60 to 604800',
    default: 3600,
    parse: integer(60, 604_800),
  }),
  define({
    key: 'sessionMaxLifetimeSeconds',
    flag: 'session-max-lifetime-seconds',
    env: 'WALLET_BACKEND_SESSION_MAX_LIFETIME_SECONDS',
    description:
      'Absolute lifetime of a sign-in: refreshed tokens never outlive it, so a stolen token cannot be kept alive by refreshing; then the client signs in again.',
    allowed: 'an integer from 1 to 31536000',
    default: 30 * 24 * 3600,
    parse: integer(1, 365 * 24 * 3600),
  }),
  define({
    key: 'maxSessionsPerClient',
    flag: 'max-sessions-per-client',
    env: 'WALLET_BACKEND_MAX_SESSIONS_PER_CLIENT',
    description: 'Live sessions a client may hold; a sign-in beyond it revokes its oldest session.',
    allowed: 'an integer from 1 to 1000',
    default: 20,
    parse: integer(1, 1000),
  }),
  define({
    key: 'registrationPowBits',
    flag: 'registration-pow-bits',
    env: 'WALLET_BACKEND_REGISTRATION_POW_BITS',
    description:
      'Proof of work asked of a client key the backend has not seen: leading zero bits of a SHA-256 (each bit doubles the work).',
    allowed: 'an integer from 0 to 32',
    default: 18,
    parse: integer(0, 32),
  }),
  define({
    key: 'maxInterestsPerClient',
    flag: 'max-interests-per-client',
    env: 'WALLET_BACKEND_MAX_INTERESTS_PER_CLIENT',
    description: 'Contracts one client may be interested in.',
    allowed: 'an integer from 1 to 100000',
    default: 100,
    parse: integer(1, 100_000),
  }),
  define({
    key: 'maxAccountsPerClient',
    flag: 'max-accounts-per-client',
    env: 'WALLET_BACKEND_MAX_ACCOUNTS_PER_CLIENT',
    description: 'Addresses one client may follow the activity of (account interests).',
    allowed: 'an integer from 1 to 100000',
    default: 20,
    parse: integer(1, 100_000),
  }),
  define({
    key: 'maxFiltersPerInterest',
    flag: 'max-filters-per-interest',
    env: 'WALLET_BACKEND_MAX_FILTERS_PER_INTEREST',
    description: 'Filters on one interest.',
    allowed: 'an integer from 1 to 1000',
    default: 16,
    parse: integer(1, 1000),
  }),
  define({
    key: 'maxWatchesPerInterest',
    flag: 'max-watches-per-interest',
    env: 'WALLET_BACKEND_MAX_WATCHES_PER_INTEREST',
    description:
      'Contract-state watches on one interest (each costs the node a read of the contract at every block).',
    allowed: 'an integer from 0 to 1000',
    default: 16,
    parse: integer(0, 1000),
  }),
  define({
    key: 'maxBackfillBlocksPerClient',
    flag: 'max-backfill-blocks-per-client',
    env: 'WALLET_BACKEND_MAX_BACKFILL_BLOCKS_PER_CLIENT',
    description:
      "Blocks of history one client's back-fills may have outstanding at once (from an interest's startBlock to the head, summed over its unfinished back-fills); an interest asking for more is refused with 409 BACKFILL_TOO_LARGE.",
    allowed: 'an integer from 0 to 100000000',
    default: 1_000_000,
    parse: integer(0, 100_000_000),
  }),
  define({
    key: 'backfillCallsPerCostUnit',
    flag: 'backfill-calls-per-cost-unit',
    env: 'WALLET_BACKEND_BACKFILL_CALLS_PER_COST_UNIT',
    description:
      "Node calls made by a client's back-fills that cost it one unit of its cost limit (a block read in full is two calls). Charged on the instance that runs the back-fills.",
    allowed: 'an integer from 1 to 1000000',
    default: 10,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'stateReadsPerCostUnit',
    flag: 'state-reads-per-cost-unit',
    env: 'WALLET_BACKEND_STATE_READS_PER_COST_UNIT',
    description:
      'Node reads for contract-state watches (one eth_getProof per watched contract and block, one eth_call per view-call watch where it may have changed) that cost one unit of the cost limit; a read is shared evenly among the clients watching what it reads. Charged on the instance that follows the chain.',
    allowed: 'an integer from 1 to 1000000',
    default: 2,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'maxFilterCostPerClient',
    flag: 'max-filter-cost-per-client',
    env: 'WALLET_BACKEND_MAX_FILTER_COST_PER_CLIENT',
    description:
      "Filter complexity one client may install: the sum of its filters' costs (all 2, logs 1 + constrained topics, calls 1, transfers 2, value 1).",
    allowed: 'an integer from 1 to 10000000',
    default: 1_000,
    parse: integer(1, 10_000_000),
  }),
  define({
    key: 'maxBacklogItems',
    flag: 'max-backlog-items',
    env: 'WALLET_BACKEND_MAX_BACKLOG_ITEMS',
    description:
      'Items queued for one client and not acknowledged; a client above it goes dormant (no more matching) until it acknowledges, then gets a gap item.',
    allowed: 'an integer from 10 to 100000000',
    default: 100_000,
    parse: integer(10, 100_000_000),
  }),
  define({
    key: 'maxBacklogBytes',
    flag: 'max-backlog-bytes',
    env: 'WALLET_BACKEND_MAX_BACKLOG_BYTES',
    description: 'Bytes queued for one client and not acknowledged; above it, as for max-backlog-items.',
    allowed: 'an integer from 1024 to 1099511627776',
    default: 64 * 1024 * 1024,
    parse: integer(1024, 1024 ** 4),
  }),
  define({
    key: 'plans',
    flag: 'plans',
    env: 'WALLET_BACKEND_PLANS',
    description:
      'Named plans of quotas, assigned per client with PUT /admin/clients/{id}/plan: {"<plan>": {"<quota>": <integer>, …}, …}. Quotas: interests, accounts, filtersPerInterest, watchesPerInterest, filterCost, backlogItems, backlogBytes, walletStateBytes, costPerSecond, costBurst, streams, backfillBlocks; a missing quota is the default plan\'s. The plan "default" is built from the settings above and may be overridden here.',
    allowed: 'a JSON object of plans (in a config file: the object itself)',
    default: {},
    parse: parsePlans,
  }),
  define({
    key: 'requestCosts',
    flag: 'request-costs',
    env: 'WALLET_BACKEND_REQUEST_COSTS',
    description:
      'Cost units of a request by route class, charged to its client and its IP subnet: {"read": 1, "write": 3, "auth": 5, "stream": 5, "proof": 5} (auth: sign-in; stream: opening a stream; proof: /v1/proofs). Classes left out keep these defaults.',
    allowed: 'a JSON object of route classes and integers from 0 to 10000',
    default: DEFAULT_REQUEST_COSTS,
    parse: parseRequestCosts,
  }),
  define({
    key: 'clientCostPerSecond',
    flag: 'client-cost-per-second',
    env: 'WALLET_BACKEND_CLIENT_COST_PER_SECOND',
    description:
      'Cost units a client may spend per second, sustained (see --request-costs for what a request costs).',
    allowed: 'an integer from 1 to 1000000',
    default: 20,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'clientCostBurst',
    flag: 'client-cost-burst',
    env: 'WALLET_BACKEND_CLIENT_COST_BURST',
    description:
      'Cost a client may accumulate: above half of it requests are slowed down, above it refused with 429.',
    allowed: 'an integer from 10 to 100000000',
    default: 400,
    parse: integer(10, 100_000_000),
  }),
  define({
    key: 'filterWorkPerCostUnit',
    flag: 'filter-work-per-cost-unit',
    env: 'WALLET_BACKEND_FILTER_WORK_PER_COST_UNIT',
    description:
      "Filter work (one filter tested against one transaction or log, weighted by the filter's complexity) that costs its client one unit of its cost limit. A client whose filters keep matching busy contracts is slowed down like one that sends many requests. Charged on the instance that follows the chain.",
    allowed: 'an integer from 1 to 1000000',
    default: 10,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'subnetCostPerSecond',
    flag: 'subnet-cost-per-second',
    env: 'WALLET_BACKEND_SUBNET_COST_PER_SECOND',
    description:
      'Cost units one IP subnet (/24 for IPv4, /48 for IPv6) may spend per second, for all its clients.',
    allowed: 'an integer from 1 to 1000000',
    default: 200,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'subnetCostBurst',
    flag: 'subnet-cost-burst',
    env: 'WALLET_BACKEND_SUBNET_COST_BURST',
    description:
      'Cost one IP subnet may accumulate before its requests are slowed down (half) and refused (all).',
    allowed: 'an integer from 10 to 100000000',
    default: 4000,
    parse: integer(10, 100_000_000),
  }),
  define({
    key: 'streamBacklogBytes',
    flag: 'stream-backlog-bytes',
    env: 'WALLET_BACKEND_STREAM_BACKLOG_BYTES',
    description:
      'Unsent bytes a stream may have queued; a consumer that falls further behind is disconnected.',
    allowed: 'an integer from 65536 to 1073741824',
    default: 4 * 1024 * 1024,
    parse: integer(65_536, 1024 * 1024 * 1024),
  }),
  define({
    key: 'maxStreamsPerClient',
    flag: 'max-streams-per-client',
    env: 'WALLET_BACKEND_MAX_STREAMS_PER_CLIENT',
    description: 'WebSocket streams one client may hold open at once (per instance).',
    allowed: 'an integer from 1 to 1000',
    default: 4,
    parse: integer(1, 1000),
  }),
  define({
    key: 'maxStreamsPerSubnet',
    flag: 'max-streams-per-subnet',
    env: 'WALLET_BACKEND_MAX_STREAMS_PER_SUBNET',
    description: 'WebSocket streams one IP subnet (/24, /48) may hold open at once (per instance).',
    allowed: 'an integer from 1 to 1000000',
    default: 2000,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'maxConnectionsPerIp',
    flag: 'max-connections-per-ip',
    env: 'WALLET_BACKEND_MAX_CONNECTIONS_PER_IP',
    description:
      'TCP connections one IP address may hold open at once (per instance); a few more are answered 503 TOO_MANY_CONNECTIONS with Retry-After (/health and /ready are served), further ones closed at once.',
    allowed: 'an integer from 1 to 1000000',
    default: 2048,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'wsMaxMessageBytes',
    flag: 'ws-max-message-bytes',
    env: 'WALLET_BACKEND_WS_MAX_MESSAGE_BYTES',
    description: 'Largest WebSocket message a client may send; a larger one closes the stream (1009).',
    allowed: 'an integer from 256 to 16777216',
    default: 64 * 1024,
    parse: integer(256, 16 * 1024 * 1024),
  }),
  define({
    key: 'registrationCalmPerMinute',
    flag: 'registration-calm-per-minute',
    env: 'WALLET_BACKEND_REGISTRATION_CALM_PER_MINUTE',
    description:
      'Registrations in the last minute that count as calm; each doubling beyond asks one more bit of proof of work (at most 8 more), falling back as the burst passes.',
    allowed: 'an integer from 1 to 1000000',
    default: 30,
    parse: integer(1, 1_000_000),
  }),
  define({
    key: 'dormantAfterSeconds',
    flag: 'dormant-after-seconds',
    env: 'WALLET_BACKEND_DORMANT_AFTER_SECONDS',
    description:
      'Abandoned clients, stage 1: a client not heard from for this long goes dormant (no more matching or queuing; identity, interests, filters and wallet state kept).',
    allowed: 'an integer from 60 to 315360000',
    default: 30 * 86_400,
    parse: integer(60, 315_360_000),
  }),
  define({
    key: 'absentAfterSeconds',
    flag: 'absent-after-seconds',
    env: 'WALLET_BACKEND_ABSENT_AFTER_SECONDS',
    description:
      'A client not heard from for this long counts as absent: it goes dormant early when its backlog or the filter work spent on it exceeds the two settings below.',
    allowed: 'an integer from 60 to 315360000',
    default: 86_400,
    parse: integer(60, 315_360_000),
  }),
  define({
    key: 'dormantAbsentBacklogItems',
    flag: 'dormant-absent-backlog-items',
    env: 'WALLET_BACKEND_DORMANT_ABSENT_BACKLOG_ITEMS',
    description: 'An absent client with more unacknowledged items than this goes dormant.',
    allowed: 'an integer from 0 to 100000000',
    default: 10_000,
    parse: integer(0, 100_000_000),
  }),
  define({
    key: 'dormantAbsentWork',
    flag: 'dormant-absent-work',
    env: 'WALLET_BACKEND_DORMANT_ABSENT_WORK',
    description:
      'An absent client whose filters cost more than this (filter evaluations weighted by cost) since its last contact goes dormant.',
    allowed: 'an integer from 0 to 1000000000000',
    default: 1_000_000,
    parse: integer(0, 1_000_000_000_000),
  }),
  define({
    key: 'pruneAfterSeconds',
    flag: 'prune-after-seconds',
    env: 'WALLET_BACKEND_PRUNE_AFTER_SECONDS',
    description:
      'Abandoned clients, stage 2: a client dormant for this long is pruned — its interests, filters, watches, queue, submissions and sessions are deleted; its identity, usage and wallet state stay for the wallet-state retention.',
    allowed: 'an integer from 60 to 315360000',
    default: 90 * 86_400,
    parse: integer(60, 315_360_000),
  }),
  define({
    key: 'walletStateRetentionSeconds',
    flag: 'wallet-state-retention-seconds',
    env: 'WALLET_BACKEND_WALLET_STATE_RETENTION_SECONDS',
    description:
      'A pruned client that has not come back for this long is deleted with its wallet state, entirely.',
    allowed: 'an integer from 60 to 3153600000',
    default: 365 * 86_400,
    parse: integer(60, 3_153_600_000),
  }),
  define({
    key: 'pruneIntervalMs',
    flag: 'prune-interval-ms',
    env: 'WALLET_BACKEND_PRUNE_INTERVAL_MS',
    description:
      'How often the abandoned-client policy and the garbage collection of unreferenced rows run (in bounded batches).',
    allowed: 'an integer from 100 to 86400000',
    default: 60_000,
    parse: integer(100, 86_400_000),
  }),
  define({
    key: 'deploymentSweepMs',
    flag: 'deployment-sweep-ms',
    env: 'WALLET_BACKEND_DEPLOYMENT_SWEEP_MS',
    description:
      'How often watched addresses without code are asked for it (finds CREATE2 deployments by factories that leave no receipt or log).',
    allowed: 'an integer from 100 to 86400000',
    default: 15_000,
    parse: integer(100, 86_400_000),
  }),
  define({
    key: 'maxRawTransactionBytes',
    flag: 'max-raw-transaction-bytes',
    env: 'WALLET_BACKEND_MAX_RAW_TRANSACTION_BYTES',
    description:
      'Largest signed transaction POST /v1/transactions accepts (geth refuses more than 128 KiB); larger ones are answered 413.',
    allowed: 'an integer from 1024 to 1048576',
    default: 131_072,
    parse: integer(1024, 1_048_576),
  }),
  define({
    key: 'submissionTtlMs',
    flag: 'submission-ttl-ms',
    env: 'WALLET_BACKEND_SUBMISSION_TTL_MS',
    description:
      'How long a submitted transaction may stay pending before it is reported dropped (it is still watched for as long again, in case it is mined after all).',
    allowed: 'an integer from 1000 to 604800000',
    default: 3_600_000,
    parse: integer(1000, 7 * 86_400_000),
  }),
  define({
    key: 'submissionRebroadcastMs',
    flag: 'submission-rebroadcast-ms',
    env: 'WALLET_BACKEND_SUBMISSION_REBROADCAST_MS',
    description:
      'How often a pending submitted transaction is sent to the node again (a node that restarted or evicted it gets it back); 0 never re-sends.',
    allowed: 'an integer from 0 to 86400000',
    default: 60_000,
    parse: integer(0, 86_400_000),
  }),
  define({
    key: 'submissionCheckMs',
    flag: 'submission-check-ms',
    env: 'WALLET_BACKEND_SUBMISSION_CHECK_MS',
    description:
      'How often pending submitted transactions are reconciled with the node (receipt lookups in bounded batches, finality, expiry, re-sending).',
    allowed: 'an integer from 50 to 600000',
    default: 3_000,
    parse: integer(50, 600_000),
  }),
  define({
    key: 'maxPendingSubmissionsPerClient',
    flag: 'max-pending-submissions-per-client',
    env: 'WALLET_BACKEND_MAX_PENDING_SUBMISSIONS_PER_CLIENT',
    description: 'Submitted transactions one client may have pending at once; more are answered 409.',
    allowed: 'an integer from 1 to 100000',
    default: 64,
    parse: integer(1, 100_000),
  }),
  define({
    key: 'walletStateMaxBytes',
    flag: 'wallet-state-max-bytes',
    env: 'WALLET_BACKEND_WALLET_STATE_MAX_BYTES',
    description: 'Largest encrypted wallet state a client may store; larger writes are answered 413.',
    allowed: 'an integer from 1024 to 104857600',
    default: 1_048_576,
    parse: integer(1024, 100 * 1024 * 1024),
  }),
  define({
    key: 'walletStateVersionsKept',
    flag: 'wallet-state-versions-kept',
    env: 'WALLET_BACKEND_WALLET_STATE_VERSIONS_KEPT',
    description: 'Earlier versions of a wallet state kept for recovery.',
    allowed: 'an integer from 0 to 100',
    default: 5,
    parse: integer(0, 100),
  }),
  define({
    key: 'walletStateWriteBytesPerCostUnit',
    flag: 'wallet-state-write-bytes-per-cost-unit',
    env: 'WALLET_BACKEND_WALLET_STATE_WRITE_BYTES_PER_COST_UNIT',
    description:
      'Bytes of a wallet-state write that cost one unit of the client and subnet cost limits (reads cost a unit per 16 KiB, like deliveries). A write is stored twice (the state and a version) and, on PGlite, holds the thread every request is served on.',
    allowed: 'an integer from 256 to 1048576',
    default: 4096,
    parse: integer(256, 1_048_576),
  }),
  define({
    key: 'logLevel',
    flag: 'log-level',
    env: 'WALLET_BACKEND_LOG_LEVEL',
    description: 'Initial log level; change it at runtime with PUT /admin/log-level.',
    allowed: LOG_LEVELS.join(', '),
    default: 'info',
    parse: (raw: unknown): LogLevel => {
      if (typeof raw !== 'string' || !(LOG_LEVELS as readonly string[]).includes(raw)) {
        throw new TypeError(`expected one of ${LOG_LEVELS.join(', ')}`)
      }
      return raw as LogLevel
    },
  }),
  define({
    key: 'adminToken',
    flag: 'admin-token',
    env: 'WALLET_BACKEND_ADMIN_TOKEN',
    description:
      'Bearer token of the /admin API. Empty: a random token is generated once and kept in the data directory (file admin-token).',
    allowed: 'at least 16 characters',
    default: undefined,
    redact: (value) => (value === undefined ? undefined : '<redacted>'),
    parse: optionalText((value) => {
      if (value.length < 16) throw new TypeError('must be at least 16 characters')
    }),
  }),
  define({
    key: 'adminAuthFailuresPerMinute',
    flag: 'admin-auth-failures-per-minute',
    env: 'WALLET_BACKEND_ADMIN_AUTH_FAILURES_PER_MINUTE',
    description:
      'Admin requests with a wrong or missing token an IP subnet may make (a burst of this many, then this many a minute); beyond it every admin request from that subnet is answered 429 with Retry-After.',
    allowed: 'an integer from 1 to 10000',
    default: 10,
    parse: integer(1, 10_000),
  }),
  define({
    key: 'bodyLimitBytes',
    flag: 'body-limit-bytes',
    env: 'WALLET_BACKEND_BODY_LIMIT_BYTES',
    description: 'Largest accepted request body; larger ones are answered 413.',
    allowed: 'an integer from 1024 to 104857600',
    default: 1_048_576,
    parse: integer(1024, 100 * 1024 * 1024),
  }),
  define({
    key: 'requestTimeoutMs',
    flag: 'request-timeout-ms',
    env: 'WALLET_BACKEND_REQUEST_TIMEOUT_MS',
    description:
      'Time a client has to send a whole request, headers included (a connection still sending its headers after it is closed); also how long a connection may stay idle or kept alive between requests.',
    allowed: 'an integer from 1000 to 600000',
    default: 30_000,
    parse: integer(1000, 600_000),
  }),
  define({
    key: 'shutdownTimeoutMs',
    flag: 'shutdown-timeout-ms',
    env: 'WALLET_BACKEND_SHUTDOWN_TIMEOUT_MS',
    description: 'Bound on draining at SIGTERM/SIGINT before the process exits anyway.',
    allowed: 'an integer from 100 to 600000',
    default: 10_000,
    parse: integer(100, 600_000),
  }),
] as const satisfies readonly Setting[]

export function parseSetting(setting: Setting, raw: unknown, source: string): unknown {
  try {
    return setting.parse(raw)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new ConfigError(setting, source, reason)
  }
}
