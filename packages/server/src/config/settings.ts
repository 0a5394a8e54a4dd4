import proxyAddr from '@fastify/proxy-addr'
import { redactRpcUrl } from '../chain/rpc/redactRpcUrl.js'
import { UNKNOWN_TRANSACTION_TYPES } from '../chain/verify/UnknownTransactionTypes.js'
import { LOG_LEVELS } from '../observability/createLogger.js'
import { ConfigError } from './ConfigError.js'
import { type PlanOverrides, parsePlans } from './parsePlans.js'
import { DEFAULT_REQUEST_COSTS, parseRequestCosts } from './parseRequestCosts.js'
import { PLAN_QUOTA_TABLE, PLAN_QUOTAS, type PlanLimits, type PlanQuota } from './planQuotas.js'

/** A kind of value: how it is parsed and what is allowed, in words, for `--help` and error messages. */
type ValueKind<T> = { parse(raw: unknown): T; allowed: string }

/** A setting as declared: its environment variable is its flag's, upper-cased, unless it says otherwise. */
type SettingDeclaration<K extends string, T> = {
  key: K
  /** `--kebab-case` flag of `wallet-backend start`. */
  flag: string
  /** `WALLET_BACKEND_*` environment variable. */
  env?: string
  description: string
  /** What is allowed, in words, for `--help` and error messages. */
  allowed: string
  default: NoInfer<T>
  /** How the value is shown in logs and crash records, where it must not leak secrets. */
  redact?(value: NoInfer<T>): unknown
  parse(raw: unknown): T
}

export type Setting<K extends string = string, T = unknown> = SettingDeclaration<K, T> & { env: string }

const integer = (min: number, max: number): ValueKind<number> => ({
  allowed: `an integer from ${min} to ${max}`,
  parse: (raw: unknown): number => {
    const value = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new TypeError(`expected an integer from ${min} to ${max}`)
    }
    return value
  },
})

const HEAD_POLLING_MODES = ['adaptive', 'fixed'] as const

const oneOf =
  <T extends string>(values: readonly T[]) =>
  (raw: unknown): T => {
    if (typeof raw !== 'string' || !(values as readonly string[]).includes(raw)) {
      throw new TypeError(`expected one of ${values.join(', ')}`)
    }
    return raw as T
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

const addressList = (raw: unknown): string[] => {
  const items = typeof raw === 'string' ? raw.split(',') : raw
  if (!Array.isArray(items) || items.some((item) => typeof item !== 'string'))
    throw new TypeError('expected a comma-separated list of addresses')
  const addresses = (items as string[]).map((item) => item.trim()).filter((item) => item !== '')
  for (const address of addresses) {
    try {
      proxyAddr.compile(address)
    } catch {
      throw new TypeError(`${JSON.stringify(address)} is not an IP address, a CIDR range or a named range`)
    }
  }
  return addresses
}

function define<K extends string, T>(setting: SettingDeclaration<K, T>): Setting<K, T> {
  return { ...setting, env: setting.env ?? envOf(setting.flag) }
}

function envOf(flag: string): string {
  return `WALLET_BACKEND_${flag.toUpperCase().replaceAll('-', '_')}`
}

/** The shorthand flags of the default plan's quotas, from the plan quota table. */
const PLAN_SHORTHANDS = PLAN_QUOTAS.map((quota) => {
  const { key, flag, description, default: value, min, max } = PLAN_QUOTA_TABLE[quota]
  return define({
    key,
    flag,
    description: `${description} Shorthand for the quota \`${quota}\` of the plan "default".`,
    default: value as number,
    ...integer(min, max),
  })
})

export const SETTINGS = [
  define({
    key: 'host',
    flag: 'host',
    description: 'Address the HTTP server binds to.',
    allowed: 'a host name or IP address',
    default: '127.0.0.1',
    parse: text(),
  }),
  define({
    key: 'port',
    flag: 'port',
    description: 'TCP port of the HTTP server (0 picks a free one).',
    default: 8080,
    ...integer(0, 65535),
  }),
  define({
    key: 'dataDir',
    flag: 'data-dir',
    description:
      'Directory for the embedded database, the embedded node, the pinned chain id, the admin token and crash records. Created with mode 0700; an existing one that other users can enter is refused at start.',
    allowed: 'a directory path',
    default: '.data',
    parse: text(),
  }),
  define({
    key: 'databaseUrl',
    flag: 'database-url',
    description: 'PostgreSQL server to use instead of the embedded PGlite database.',
    allowed: 'a postgres:// or postgresql:// URL, or empty for embedded PGlite',
    default: undefined,
    redact: (value) => (value === undefined ? undefined : redactUrl(value)),
    parse: optionalText((value) => checkUrl(value, ['postgres:', 'postgresql:'])),
  }),
  define({
    key: 'advertiseUrl',
    flag: 'advertise-url',
    description:
      'With several instances on one PostgreSQL database: the URL the other instances reach this one at when it leads (they forward writes that need the chain follower to it). By default the URL it listens on.',
    allowed: 'an http:// or https:// URL, or empty for the listening URL',
    default: undefined,
    parse: optionalText((value) => checkUrl(value, ['http:', 'https:'])),
  }),
  define({
    key: 'publicUrl',
    flag: 'public-url',
    description:
      'The origin clients reach the service at (behind a proxy or load balancer, the public one): sign-in messages name it as their domain and URI, and a signed message for any other origin is refused. By default the URL it listens on, which fits local use only. Give every instance of a deployment the same one.',
    allowed: 'an http:// or https:// URL with no path, query or fragment, or empty for the listening URL',
    default: undefined,
    parse: optionalText(checkOrigin),
  }),
  define({
    key: 'leaderRetryMs',
    flag: 'leader-retry-ms',
    description:
      'With several instances on one PostgreSQL database: how often a standby tries to become the leader and reads where the chain is; also how often the leader checks its lock session.',
    default: 1_000,
    ...integer(50, 60_000),
  }),
  define({
    key: 'databasePoolSize',
    flag: 'database-pool-size',
    description: 'Connections in the PostgreSQL pool.',
    default: 10,
    ...integer(1, 200),
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
    description: 'Embedded anvil only: seconds between blocks; 0 mines a block for each transaction.',
    default: 0,
    ...integer(0, 3600),
  }),
  define({
    key: 'rpcTimeoutMs',
    flag: 'rpc-timeout-ms',
    description: 'Timeout of one JSON-RPC call before the next node URL is tried.',
    default: 10_000,
    ...integer(100, 600_000),
  }),
  define({
    key: 'pollIntervalMs',
    flag: 'poll-interval-ms',
    description:
      'The longest wait between two head polls when the node offers no newHeads subscription; with adaptive head polling, how often a chain with no regular blocks is polled.',
    default: 1_000,
    ...integer(50, 600_000),
  }),
  define({
    key: 'headPolling',
    flag: 'head-polling',
    description:
      'Without newHeads: "adaptive" learns the block interval and polls in short steps (100 ms at most) only around the time the next block is due; "fixed" polls every --poll-interval-ms.',
    allowed: HEAD_POLLING_MODES.join(', '),
    default: 'adaptive',
    parse: oneOf(HEAD_POLLING_MODES),
  }),
  define({
    key: 'startBlock',
    flag: 'start-block',
    description:
      'Where to start following on an empty database; history before it is reached through back-fills.',
    allowed: '"latest" or a block number',
    default: 'latest',
    parse: (raw: unknown): number | 'latest' =>
      raw === 'latest' ? 'latest' : integer(0, Number.MAX_SAFE_INTEGER).parse(raw),
  }),
  define({
    key: 'confirmations',
    flag: 'confirmations',
    description:
      'Finality for nodes without the safe/finalized block tags: a block this deep below the head counts as final.',
    default: 64,
    ...integer(0, 10_000),
  }),
  define({
    key: 'unknownTransactionTypes',
    flag: 'unknown-transaction-types',
    env: 'WALLET_BACKEND_UNKNOWN_TRANSACTION_TYPES',
    description:
      'Blocks holding transaction types the backend cannot check against the header (Arbitrum Nitro’s, a chain’s own): refuse them, or trust the node and store them marked as not verified (no proofs of their transactions and receipts).',
    allowed: UNKNOWN_TRANSACTION_TYPES.join(', '),
    default: 'refuse',
    parse: oneOf(UNKNOWN_TRANSACTION_TYPES),
  }),
  define({
    key: 'catchUpBatchSize',
    flag: 'catch-up-batch-size',
    description:
      'Blocks fetched per JSON-RPC batch while catching up (the next batch is fetched while one is stored).',
    default: 50,
    ...integer(1, 1000),
  }),
  define({
    key: 'retainFinalizedBlocks',
    flag: 'retain-finalized-blocks',
    description:
      'Canonical blocks kept below the finalized block; older ones, and abandoned ones, are pruned.',
    default: 100_000,
    ...integer(0, 100_000_000),
  }),
  define({
    key: 'sessionTtlSeconds',
    flag: 'session-ttl-seconds',
    description: 'Lifetime of a session token; POST /v1/auth/refresh renews it.',
    default: 3600,
    ...integer(60, 604_800),
  }),
  define({
    key: 'sessionMaxLifetimeSeconds',
    flag: 'session-max-lifetime-seconds',
    description:
      'Absolute lifetime of a sign-in: refreshed tokens never outlive it, so a stolen token cannot be kept alive by refreshing; then the client signs in again.',
    default: 30 * 24 * 3600,
    ...integer(1, 365 * 24 * 3600),
  }),
  define({
    key: 'maxSessionsPerClient',
    flag: 'max-sessions-per-client',
    description: 'Live sessions a client may hold; a sign-in beyond it revokes its oldest session.',
    default: 20,
    ...integer(1, 1000),
  }),
  define({
    key: 'registrationPowBits',
    flag: 'registration-pow-bits',
    description:
      'Proof of work asked of a client key the backend has not seen: leading zero bits of a SHA-256 (each bit doubles the work).',
    default: 18,
    ...integer(0, 32),
  }),
  define({
    key: 'backfillCallsPerCostUnit',
    flag: 'backfill-calls-per-cost-unit',
    description:
      "Node calls made by a client's back-fills that cost it one unit of its cost limit (a block read in full is two calls). Charged on the instance that runs the back-fills.",
    default: 10,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'stateReadsPerCostUnit',
    flag: 'state-reads-per-cost-unit',
    description:
      'Node reads for contract-state watches (one eth_getProof per watched contract and block, one eth_call per view-call watch where it may have changed) that cost one unit of the cost limit; a read is shared evenly among the clients watching what it reads. Charged on the instance that follows the chain.',
    default: 2,
    ...integer(1, 1_000_000),
  }),
  ...PLAN_SHORTHANDS,
  define({
    key: 'plans',
    flag: 'plans',
    description: `Named plans of quotas, assigned per client with PUT /admin/clients/{id}/plan: {"<plan>": {"<quota>": <integer>, …}, …}. Quotas: ${PLAN_QUOTAS.join(', ')}; a missing quota is the default plan's. The plan "default" is the built-in quotas changed by their shorthand settings above (--max-interests-per-client, …); naming "default" here changes it further.`,
    allowed: 'a JSON object of plans (in a config file: the object itself)',
    default: {},
    parse: parsePlans,
  }),
  define({
    key: 'requestCosts',
    flag: 'request-costs',
    description:
      'Cost units of a request by route class, charged to its client and its IP subnet: {"read": 1, "write": 3, "auth": 5, "stream": 5, "proof": 5} (auth: sign-in; stream: opening a stream; proof: /v1/proofs). Classes left out keep these defaults.',
    allowed: 'a JSON object of route classes and integers from 0 to 10000',
    default: DEFAULT_REQUEST_COSTS,
    parse: parseRequestCosts,
  }),
  define({
    key: 'filterWorkPerCostUnit',
    flag: 'filter-work-per-cost-unit',
    description:
      "Filter work (one filter tested against one transaction or log, weighted by the filter's complexity) that costs its client one unit of its cost limit. A client whose filters keep matching busy contracts is slowed down like one that sends many requests. Charged on the instance that follows the chain.",
    default: 10,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'subnetCostPerSecond',
    flag: 'subnet-cost-per-second',
    description:
      'Cost units one IP subnet (/24 for IPv4, /48 for IPv6) may spend per second, for all its clients.',
    default: 200,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'subnetCostBurst',
    flag: 'subnet-cost-burst',
    description:
      'Cost one IP subnet may accumulate before its requests are slowed down (half) and refused (all).',
    default: 4000,
    ...integer(10, 100_000_000),
  }),
  define({
    key: 'streamBacklogBytes',
    flag: 'stream-backlog-bytes',
    description:
      'Unsent bytes a stream may have queued; a consumer that falls further behind is disconnected.',
    default: 4 * 1024 * 1024,
    ...integer(65_536, 1024 * 1024 * 1024),
  }),
  define({
    key: 'maxStreamsPerSubnet',
    flag: 'max-streams-per-subnet',
    description: 'WebSocket streams one IP subnet (/24, /48) may hold open at once (per instance).',
    default: 2000,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'maxConnectionsPerIp',
    flag: 'max-connections-per-ip',
    description:
      'TCP connections one IP address may hold open at once (per instance); a few more are answered 503 TOO_MANY_CONNECTIONS with Retry-After (/health and /ready are served), further ones closed at once.',
    default: 2048,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'trustedProxies',
    flag: 'trusted-proxies',
    description:
      'Reverse proxies and load balancers in front of the backend: a request from one of them is taken to come from the address it names in X-Forwarded-For (the nearest one not itself trusted), which per-subnet limits, stream bounds and cost limits then apply to; their own connections are not held to --max-connections-per-ip. Empty: X-Forwarded-For is ignored, as anyone can send it.',
    allowed:
      'comma-separated IP addresses or CIDR ranges (e.g. 10.0.0.0/8), or loopback, linklocal, uniquelocal',
    default: [] as string[],
    parse: addressList,
  }),
  define({
    key: 'wsMaxMessageBytes',
    flag: 'ws-max-message-bytes',
    description: 'Largest WebSocket message a client may send; a larger one closes the stream (1009).',
    default: 64 * 1024,
    ...integer(256, 16 * 1024 * 1024),
  }),
  define({
    key: 'registrationCalmPerMinute',
    flag: 'registration-calm-per-minute',
    description:
      'Registrations in the last minute that count as calm; each doubling beyond asks one more bit of proof of work (at most 8 more), falling back as the burst passes.',
    default: 30,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'dormantAfterSeconds',
    flag: 'dormant-after-seconds',
    description:
      'Abandoned clients, stage 1: a client not heard from for this long goes dormant (no more matching or queuing; identity, interests, filters and wallet state kept).',
    default: 30 * 86_400,
    ...integer(60, 315_360_000),
  }),
  define({
    key: 'absentAfterSeconds',
    flag: 'absent-after-seconds',
    description:
      'A client not heard from for this long counts as absent: it goes dormant early when its backlog or the filter work spent on it exceeds the two settings below.',
    default: 86_400,
    ...integer(60, 315_360_000),
  }),
  define({
    key: 'dormantAbsentBacklogItems',
    flag: 'dormant-absent-backlog-items',
    description: 'An absent client with more unacknowledged items than this goes dormant.',
    default: 10_000,
    ...integer(0, 100_000_000),
  }),
  define({
    key: 'dormantAbsentWork',
    flag: 'dormant-absent-work',
    description:
      'An absent client whose filters cost more than this (filter evaluations weighted by cost) since its last contact goes dormant.',
    default: 1_000_000,
    ...integer(0, 1_000_000_000_000),
  }),
  define({
    key: 'pruneAfterSeconds',
    flag: 'prune-after-seconds',
    description:
      'Abandoned clients, stage 2: a client dormant for this long is pruned — its interests, filters, watches, queue, submissions and sessions are deleted; its identity, usage and wallet state stay for the wallet-state retention.',
    default: 90 * 86_400,
    ...integer(60, 315_360_000),
  }),
  define({
    key: 'walletStateRetentionSeconds',
    flag: 'wallet-state-retention-seconds',
    description:
      'A pruned client that has not come back for this long is deleted with its wallet state, entirely.',
    default: 365 * 86_400,
    ...integer(60, 3_153_600_000),
  }),
  define({
    key: 'pruneIntervalMs',
    flag: 'prune-interval-ms',
    description:
      'How often the abandoned-client policy and the garbage collection of unreferenced rows run (in bounded batches).',
    default: 60_000,
    ...integer(100, 86_400_000),
  }),
  define({
    key: 'deploymentSweepMs',
    flag: 'deployment-sweep-ms',
    description:
      'How often watched addresses without code are asked for it (finds CREATE2 deployments by factories that leave no receipt or log).',
    default: 15_000,
    ...integer(100, 86_400_000),
  }),
  define({
    key: 'maxRawTransactionBytes',
    flag: 'max-raw-transaction-bytes',
    description:
      'Largest signed transaction POST /v1/transactions accepts (geth refuses more than 128 KiB); larger ones are answered 413.',
    default: 131_072,
    ...integer(1024, 1_048_576),
  }),
  define({
    key: 'submissionTtlMs',
    flag: 'submission-ttl-ms',
    description:
      'How long a submitted transaction may stay pending before it is reported dropped (it is still watched for as long again, in case it is mined after all).',
    default: 3_600_000,
    ...integer(1000, 7 * 86_400_000),
  }),
  define({
    key: 'submissionRebroadcastMs',
    flag: 'submission-rebroadcast-ms',
    description:
      'How often a pending submitted transaction is sent to the node again (a node that restarted or evicted it gets it back); 0 never re-sends.',
    default: 60_000,
    ...integer(0, 86_400_000),
  }),
  define({
    key: 'submissionCheckMs',
    flag: 'submission-check-ms',
    description:
      'How often pending submitted transactions are reconciled with the node (receipt lookups in bounded batches, finality, expiry, re-sending).',
    default: 3_000,
    ...integer(50, 600_000),
  }),
  define({
    key: 'maxPendingSubmissionsPerClient',
    flag: 'max-pending-submissions-per-client',
    description: 'Submitted transactions one client may have pending at once; more are answered 409.',
    default: 64,
    ...integer(1, 100_000),
  }),
  define({
    key: 'rpcFilterIdleMs',
    flag: 'rpc-filter-idle-ms',
    description:
      'How long a JSON-RPC filter or subscription lives without being polled or held by a connection; then it expires.',
    default: 3_600_000,
    ...integer(60_000, 604_800_000),
  }),
  define({
    key: 'rpcMaxBatch',
    flag: 'rpc-max-batch',
    description: 'Calls in one JSON-RPC batch at most; a larger batch is refused whole (-32600).',
    default: 100,
    ...integer(1, 1_000),
  }),
  define({
    key: 'rpcMaxLogBlockRange',
    flag: 'rpc-max-log-block-range',
    description: 'Blocks one eth_getLogs (or eth_getFilterLogs) may span; wider ranges are refused (-32602).',
    default: 10_000,
    ...integer(1, 1_000_000),
  }),
  define({
    key: 'walletStateVersionsKept',
    flag: 'wallet-state-versions-kept',
    description: 'Earlier versions of a wallet state kept for recovery.',
    default: 5,
    ...integer(0, 100),
  }),
  define({
    key: 'walletStateWriteBytesPerCostUnit',
    flag: 'wallet-state-write-bytes-per-cost-unit',
    description:
      'Bytes of a wallet-state write that cost one unit of the client and subnet cost limits (reads cost a unit per 16 KiB, like deliveries). A write is stored twice (the state and a version) and, on PGlite, holds the thread every request is served on.',
    default: 4096,
    ...integer(256, 1_048_576),
  }),
  define({
    key: 'logLevel',
    flag: 'log-level',
    description: 'Initial log level; change it at runtime with PUT /admin/log-level.',
    allowed: LOG_LEVELS.join(', '),
    default: 'info',
    parse: oneOf(LOG_LEVELS),
  }),
  define({
    key: 'adminToken',
    flag: 'admin-token',
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
    description:
      'Admin requests with a wrong or missing token an IP subnet may make (a burst of this many, then this many a minute); beyond it every admin request from that subnet is answered 429 with Retry-After.',
    default: 10,
    ...integer(1, 10_000),
  }),
  define({
    key: 'bodyLimitBytes',
    flag: 'body-limit-bytes',
    description: 'Largest accepted request body; larger ones are answered 413.',
    default: 1_048_576,
    ...integer(1024, 100 * 1024 * 1024),
  }),
  define({
    key: 'requestTimeoutMs',
    flag: 'request-timeout-ms',
    description:
      'Time a client has to send a whole request, headers included (a connection still sending its headers after it is closed); also how long a connection may stay idle or kept alive between requests.',
    default: 30_000,
    ...integer(1000, 600_000),
  }),
  define({
    key: 'shutdownTimeoutMs',
    flag: 'shutdown-timeout-ms',
    description: 'Bound on draining at SIGTERM/SIGINT before the process exits anyway.',
    default: 10_000,
    ...integer(100, 600_000),
  }),
] as const

type ValueOf<S> = S extends Setting<string, infer T> ? T : never

/** Every setting's value, by key, as the table declares it. */
export type SettingValues = { [S in (typeof SETTINGS)[number] as S['key']]: ValueOf<S> }

/** The keys of the shorthand settings of the default plan's quotas. */
export type PlanShorthandKey = (typeof PLAN_QUOTA_TABLE)[PlanQuota]['key']

/** Every plan with all its quotas; `default` is always there. */
export type Plans = { default: PlanLimits } & Record<string, PlanLimits>

/**
 * The configuration of the service, derived from the settings table. Quotas live in `plans` only:
 * the shorthand settings are folded into the plan `default`.
 */
export type Config = Omit<SettingValues, PlanShorthandKey | 'plans'> & { plans: Plans }

export type SettingKey = keyof SettingValues

/**
 * The plans a configuration names: the plan `default` is the built-in quotas changed by the
 * shorthand settings, then by the `plans` setting's own `default`; every other plan fills in what
 * it does not name from it.
 */
export function resolvePlans(values: Pick<SettingValues, PlanShorthandKey | 'plans'>): Plans {
  const shorthands = Object.fromEntries(
    PLAN_QUOTAS.map((quota) => [quota, values[PLAN_QUOTA_TABLE[quota].key]]),
  ) as PlanLimits
  const base: PlanLimits = { ...shorthands, ...values.plans.default }
  const plans: Plans = { default: base }
  for (const [name, quotas] of Object.entries(values.plans as PlanOverrides))
    if (name !== 'default') plans[name] = { ...base, ...quotas }
  return plans
}

export function parseSetting(setting: Setting, raw: unknown, source: string): unknown {
  try {
    return setting.parse(raw)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    throw new ConfigError(setting, source, reason)
  }
}
