import { isErrorCode } from '@wallet-backend/sdk/protocol'
import { type Hex, hexToBytes, numberToHex } from 'viem'
import type { AppContext, SharedRuntime } from '../api/AppContext.js'
import { chargeDelivered } from '../api/plugins/chargeBytes.js'
import { sendToLeader } from '../api/plugins/forwardToLeader.js'
import { RpcResponseError } from '../chain/rpc/errors.js'
import { RateLimitedError } from '../clients/abuse/CostLimiter.js'
import { subnetOf } from '../clients/abuse/subnetOf.js'
import { BaseError } from '../errors/BaseError.js'
import { NoLeaderError } from '../lifecycle/leadership/errors.js'
import { submitTransaction } from '../submissions/submitTransaction.js'
import { VERSION } from '../version.js'
import { filterNotFound, invalidParams, JsonRpcError, RPC_CODES } from './JsonRpcError.js'
import { parseLogCriteria } from './logCriteria.js'
import {
  countRpcFilters,
  createRpcFilter,
  deleteRpcFilter,
  findRpcFilter,
  takeRpcFilterChanges,
} from './rpcFilterStore.js'
import { SharedReads } from './SharedReads.js'

/** Who is calling: the client an RPC key named, and the IP it called from. */
export type RpcCaller = {
  clientId: Hex
  clientIdBytes: Uint8Array
  plan: string
  ip: string
  /** The key the call came with: a standby sends the leader's share of the work on with it. */
  key: string
  /** Sent on by a standby that charged it already. */
  forwarded: boolean
}

/** What a WebSocket connection adds: subscriptions. */
export type SubscriptionHost = {
  subscribe(kind: 'logs' | 'newHeads', criteria: Record<string, unknown>, resume: unknown): Promise<Hex>
  unsubscribe(id: unknown): Promise<boolean>
}

export type JsonRpcRequest = { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: unknown }
export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: unknown; result: unknown }
  | { jsonrpc: '2.0'; id: unknown; error: { code: number; message: string; data?: unknown } }

/** Reads answered by the node (through the shared cache) when the store has nothing better. */
const FORWARDED = new Set([
  'eth_getBlockByNumber',
  'eth_getBlockByHash',
  'eth_getTransactionByHash',
  'eth_getTransactionReceipt',
  'eth_call',
  'eth_estimateGas',
  'eth_getBalance',
  'eth_getCode',
  'eth_getStorageAt',
  'eth_getTransactionCount',
  'eth_gasPrice',
  'eth_maxPriorityFeePerGas',
  'eth_feeHistory',
  'eth_getProof',
  'eth_getLogs',
])
/** Where each forwarded method takes a block tag, so that `latest` means the stored head. */
const BLOCK_PARAM: Record<string, number> = {
  eth_getBlockByNumber: 0,
  eth_call: 1,
  eth_getBalance: 1,
  eth_getCode: 1,
  eth_getTransactionCount: 1,
  eth_getStorageAt: 2,
  eth_getProof: 2,
}
const WRITES = new Set(['eth_sendRawTransaction', 'eth_newFilter', 'eth_newBlockFilter', 'eth_subscribe'])
const MAX_CHANGES_PER_POLL = 10_000
const MAX_FILTERS_PER_CLIENT = 100

/**
 * The JSON-RPC methods a wallet's provider calls, for one instance: chain facts from the verified
 * store, reads through a cache shared by every client, durable filters, and submissions tracked
 * like `POST /v1/transactions`. Anything else is refused, never forwarded: the node's admin,
 * debug and signing methods are not the clients' to call.
 */
export class JsonRpcEndpoint {
  readonly reads = new SharedReads()

  constructor(private readonly context: AppContext) {}

  /** Answers one request object (of a batch or alone); undefined for a notification (no id). */
  async handle(
    caller: RpcCaller,
    request: unknown,
    host?: SubscriptionHost,
  ): Promise<JsonRpcResponse | undefined> {
    if (typeof request !== 'object' || request === null || Array.isArray(request))
      return failure(
        null,
        new JsonRpcError('RPC_INVALID_REQUEST', RPC_CODES.invalidRequest, 'invalid request'),
      )
    const { jsonrpc, id, method, params } = request as JsonRpcRequest
    const answerId = validId(id) ? id : null
    if (
      jsonrpc !== '2.0' ||
      typeof method !== 'string' ||
      !validId(id) ||
      (params !== undefined && !Array.isArray(params))
    )
      return failure(
        answerId,
        new JsonRpcError(
          'RPC_INVALID_REQUEST',
          RPC_CODES.invalidRequest,
          'invalid request: expected {"jsonrpc":"2.0","id":…,"method":"…","params":[…]}',
        ),
      )
    try {
      await this.#charge(caller, method)
      const result = await this.call(caller, method, (params as unknown[] | undefined) ?? [], host)
      return id === undefined ? undefined : { jsonrpc: '2.0', id, result }
    } catch (error) {
      return id === undefined ? undefined : failure(id, error)
    }
  }

  async call(
    caller: RpcCaller,
    method: string,
    params: unknown[],
    host?: SubscriptionHost,
  ): Promise<unknown> {
    const runtime = this.context.runtime()
    const idleMs = this.context.config.rpcFilterIdleMs
    switch (method) {
      case 'eth_chainId':
        return numberToHex(runtime.chainId)
      case 'net_version':
        return String(runtime.chainId)
      case 'web3_clientVersion':
        return `wallet-backend/${VERSION}`
      case 'eth_blockNumber':
        return numberToHex(this.#head(runtime).number)
      case 'eth_sendRawTransaction': {
        const raw = params[0]
        if (typeof raw !== 'string' || !/^0x[0-9a-fA-F]*$/.test(raw))
          throw invalidParams('expected [signedTransaction]')
        // Submissions are tracked by the leader, which watches the chain for them.
        if (this.context.leadership().kind === 'standby') return this.#onLeader(caller, method, [raw])
        const { record } = await submitTransaction(
          this.context.leader(),
          this.context.config,
          caller.clientId,
          raw as Hex,
          this.context.logger,
          { requireInterest: false },
        )
        return record.hash
      }
      case 'eth_newFilter': {
        const criteria = parseLogCriteria(params[0])
        const range = params[0] as { fromBlock?: unknown; toBlock?: unknown } | undefined
        const fromBlock = this.#blockNumberOf(runtime, range?.fromBlock)
        const toBlock = this.#blockNumberOf(runtime, range?.toBlock)
        return this.install(caller, {
          kind: 'logs',
          subscription: false,
          criteria: {
            ...criteria,
            ...(fromBlock === undefined ? {} : { fromBlock }),
            ...(toBlock === undefined ? {} : { toBlock }),
          },
        })
      }
      case 'eth_newBlockFilter':
        return this.install(caller, { kind: 'blocks', subscription: false, criteria: {} })
      case 'eth_getFilterChanges': {
        const filter = await findRpcFilter(runtime.db, caller.clientIdBytes, params[0], idleMs)
        if (filter.subscription) throw filterNotFound()
        const changes = await takeRpcFilterChanges(runtime.db, filter.id, MAX_CHANGES_PER_POLL)
        return changes.map((change) => change.payload)
      }
      case 'eth_getFilterLogs': {
        const filter = await findRpcFilter(runtime.db, caller.clientIdBytes, params[0], idleMs)
        if (filter.kind !== 'logs' || filter.subscription) throw filterNotFound()
        const criteria = filter.criteria as ReturnType<typeof parseLogCriteria> & {
          fromBlock?: number
          toBlock?: number
        }
        const head = this.#head(runtime).number
        return this.#getLogs(runtime, {
          ...(criteria.addresses.length > 0 ? { address: criteria.addresses } : {}),
          topics: criteria.topics,
          fromBlock: numberToHex(criteria.fromBlock ?? head),
          toBlock: numberToHex(Math.min(criteria.toBlock ?? head, head)),
        })
      }
      case 'eth_uninstallFilter':
        return this.uninstall(caller, params[0])
      case 'eth_subscribe': {
        if (!host)
          throw new JsonRpcError(
            'RPC_METHOD_NOT_FOUND',
            RPC_CODES.methodNotFound,
            'eth_subscribe needs a WebSocket connection',
          )
        const [kind, ...rest] = params
        const last = rest.at(-1) as { resume?: unknown } | undefined
        const resume = typeof last === 'object' && last !== null && 'resume' in last ? last.resume : undefined
        if (kind === 'newHeads') return host.subscribe('newHeads', {}, resume)
        if (kind === 'logs') {
          const criteria = resume !== undefined && rest.length === 1 ? {} : parseLogCriteria(rest[0])
          return host.subscribe('logs', criteria, resume)
        }
        throw invalidParams('subscriptions: "newHeads" or "logs"')
      }
      case 'eth_unsubscribe':
        if (!host)
          throw new JsonRpcError(
            'RPC_METHOD_NOT_FOUND',
            RPC_CODES.methodNotFound,
            'eth_unsubscribe needs a WebSocket connection',
          )
        return host.unsubscribe(params[0])
      case 'eth_getTransactionReceipt':
      case 'eth_getTransactionByHash': {
        const stored = await this.#storedTransaction(
          runtime,
          params[0],
          method === 'eth_getTransactionReceipt',
        )
        if (stored !== undefined) return stored
        return this.#forward(runtime, method, params)
      }
      case 'eth_getLogs':
        return this.#getLogs(runtime, params[0])
      default:
        if (FORWARDED.has(method)) return this.#forward(runtime, method, params)
        throw new JsonRpcError(
          'RPC_METHOD_NOT_FOUND',
          RPC_CODES.methodNotFound,
          `the method ${method} is not served here`,
        )
    }
  }

  uninstall(caller: RpcCaller, id: unknown): Promise<boolean> {
    return deleteRpcFilter(this.context.runtime().db, caller.clientIdBytes, id)
  }

  /**
   * Makes the call on the leader, as the caller, and answers what it answered. The leader takes
   * it as forwarded (the term's secret) and does not charge it again.
   */
  async #onLeader(caller: RpcCaller, method: string, params: unknown[]): Promise<unknown> {
    const answer = await sendToLeader(this.context, {
      method: 'POST',
      url: '/rpc',
      headers: { authorization: `Bearer ${caller.key}` },
      body: { jsonrpc: '2.0', id: 1, method, params },
      id: `rpc-${method}`,
    })
    const body = (await answer.json().catch(() => undefined)) as JsonRpcResponse | undefined
    if (body && 'result' in body) return body.result
    if (body && 'error' in body) {
      const { code, message, data } = body.error
      const named = (data as { code?: unknown } | undefined)?.code
      throw new JsonRpcError(isErrorCode(named) ? named : 'NO_LEADER', code, message, data)
    }
    throw new NoLeaderError(`the leader answered ${method} with HTTP ${answer.status} and no JSON-RPC answer`)
  }

  /**
   * What an answer or a notification weighs, paid like the API's responses and stream frames: in
   * the client's delivered bytes and its cost limit. Returns the seconds to wait when that put the
   * client over its hard limit (0 when not): a WebSocket is then closed, as a stream is.
   */
  chargeAnswer(caller: RpcCaller, bytes: number): number {
    if (caller.forwarded) return 0
    const client = { id: caller.clientId, plan: this.context.plans.get(caller.plan) }
    return chargeDelivered(this.context, client, bytes, 'bytes_delivered')
  }

  /** Every call is paid for by the client's plan and by its subnet, like a request of the API. */
  async #charge(caller: RpcCaller, method: string): Promise<void> {
    if (caller.forwarded) return
    const { limiter, config, plans } = this.context
    const units = WRITES.has(method) ? config.requestCosts.write : config.requestCosts.read
    try {
      const delay = Math.max(
        limiter.charge('subnet', subnetOf(caller.ip), units),
        limiter.charge('client', caller.clientId, units, limiter.limitsOf('client', plans.get(caller.plan))),
      )
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error
      throw new JsonRpcError('RATE_LIMITED', RPC_CODES.limitExceeded, error.message, error.details)
    }
  }

  #head(runtime: SharedRuntime): { number: number; hash: Hex } {
    const head = runtime.chain().head
    if (!head)
      throw new JsonRpcError('NOT_READY', RPC_CODES.internal, 'no block stored yet; try again shortly')
    return head
  }

  /** A block parameter as a number: tags are the stored chain's; undefined stays undefined. */
  #blockNumberOf(runtime: SharedRuntime, tag: unknown): number | undefined {
    if (tag === undefined || tag === null) return undefined
    if (tag === 'latest' || tag === 'pending') return this.#head(runtime).number
    // The stored position knows finality only; `safe` is at least that.
    if (tag === 'finalized' || tag === 'safe') return runtime.chain().finalized?.number ?? 0
    if (tag === 'earliest') return 0
    if (typeof tag === 'string' && /^0x[0-9a-fA-F]{1,16}$/.test(tag)) return Number(tag)
    throw invalidParams(`invalid block number or tag: ${String(tag)}`)
  }

  /** Installs a filter or subscription of the caller's, within its bound. */
  async install(caller: RpcCaller, filter: Parameters<typeof createRpcFilter>[2]): Promise<Hex> {
    const runtime = this.context.runtime()
    if ((await countRpcFilters(runtime.db, caller.clientIdBytes)) >= MAX_FILTERS_PER_CLIENT)
      throw new JsonRpcError(
        'RPC_TOO_MANY_FILTERS',
        RPC_CODES.limitExceeded,
        `at most ${MAX_FILTERS_PER_CLIENT} filters and subscriptions per client; uninstall some`,
        {
          limit: MAX_FILTERS_PER_CLIENT,
        },
      )
    return createRpcFilter(runtime.db, caller.clientIdBytes, filter)
  }

  async #getLogs(runtime: SharedRuntime, raw: unknown): Promise<unknown> {
    const query = (raw ?? {}) as { fromBlock?: unknown; toBlock?: unknown; blockHash?: unknown }
    parseLogCriteria(raw)
    if (query.blockHash === undefined) {
      const head = this.#head(runtime).number
      const from = this.#blockNumberOf(runtime, query.fromBlock) ?? head
      const to = this.#blockNumberOf(runtime, query.toBlock) ?? head
      const max = this.context.config.rpcMaxLogBlockRange
      if (to - from + 1 > max)
        throw invalidParams(`block range too large: ${to - from + 1} blocks, at most ${max} per eth_getLogs`)
      return this.#forward(runtime, 'eth_getLogs', [
        { ...query, fromBlock: numberToHex(from), toBlock: numberToHex(to) },
      ])
    }
    return this.#forward(runtime, 'eth_getLogs', [raw])
  }

  /** A transaction (or its receipt) the backend verified and stored, in a canonical block. */
  async #storedTransaction(runtime: SharedRuntime, hash: unknown, receipt: boolean): Promise<unknown> {
    if (typeof hash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(hash))
      throw invalidParams('expected [transactionHash]')
    const row = await runtime.db
      .selectFrom('verified_txs as t')
      .innerJoin('blocks as b', 'b.hash', 't.block_hash')
      .select(['t.tx', 't.receipt'])
      .where('t.tx_hash', '=', hexToBytes(hash as Hex))
      .where('b.canonical', '=', true)
      .executeTakeFirst()
    if (!row) return undefined
    return receipt ? row.receipt : row.tx
  }

  /** A read answered by the node, once per stored head for every client asking the same. */
  #forward(runtime: SharedRuntime, method: string, params: unknown[]): Promise<unknown> {
    const head = this.#head(runtime)
    const at = BLOCK_PARAM[method]
    const resolved =
      at !== undefined && params[at] === 'latest'
        ? params.map((p, i) => (i === at ? numberToHex(head.number) : p))
        : params
    const key = `${head.hash}|${method}|${JSON.stringify(resolved)}`
    return this.reads.read(key, () => runtime.node.request(method, resolved))
  }
}

/** JSON-RPC allows a string, a number or null as id; absent means a notification. */
function validId(id: unknown): boolean {
  return (
    id === undefined ||
    id === null ||
    typeof id === 'string' ||
    (typeof id === 'number' && Number.isFinite(id))
  )
}

/** An error as a JSON-RPC error object; what the client may see of it, nothing internal. */
export function failure(id: unknown, error: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id: id ?? null, error: rpcErrorOf(error) }
}

function rpcErrorOf(error: unknown): { code: number; message: string; data?: unknown } {
  if (error instanceof JsonRpcError)
    return {
      code: error.rpcCode,
      message: error.message,
      ...(error.data === undefined ? {} : { data: error.data }),
    }
  // The node refused the call (a revert, a bad parameter): its answer is the caller's.
  if (error instanceof RpcResponseError)
    return {
      code: error.rpcCode,
      message: error.rpcMessage,
      ...(error.data === undefined ? {} : { data: error.data }),
    }
  if (error instanceof BaseError) {
    const retry = error.details?.retryAfterSeconds
    return {
      code:
        error.status === 429
          ? RPC_CODES.limitExceeded
          : error.status < 500
            ? RPC_CODES.server
            : RPC_CODES.internal,
      message: error.message,
      data: {
        code: error.code,
        ...(retry === undefined ? {} : { retryAfterSeconds: retry }),
        ...(error.details ?? {}),
      },
    }
  }
  return { code: RPC_CODES.internal, message: 'internal error' }
}
