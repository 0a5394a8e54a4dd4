import type { LocalAccount } from 'viem'
import { checkAccountLog, checkAccountTransaction } from './checkAccountItem.js'
import { checkItemTransaction } from './checkItemTransaction.js'
import { parseRetryAfter, WalletBackendError } from './errors.js'
import type { DeliveriesPage } from './protocol/index.js'
import { solveProofOfWork } from './solveProofOfWork.js'
import {
  defaultWebSocket,
  openStream,
  type Stream,
  type StreamOptions,
  type WebSocketConstructor,
} from './stream.js'
import type {
  Account,
  AccountActivityKind,
  DeliveryItem,
  Filter,
  Hex,
  Interest,
  Submission,
  Watch,
} from './types.js'
import {
  type AccountProof,
  type BlockHeader,
  encodeReceipt,
  ProofVerificationError,
  type Receipt,
  type TransactionProof,
  verifyAccountProof,
  verifyBlockHeader,
  verifyReceiptProof,
  verifyTransactionProof,
} from './verify/index.js'

export type ClientOptions = {
  /** The backend's base URL, e.g. http://127.0.0.1:8080 */
  url: string
  /** The client key: an account that signs the sign-in message (not an on-chain account). */
  account: LocalAccount
  /** Default: the global WebSocket (browsers, Node ≥ 22), else the `ws` package (Node 20). */
  WebSocket?: WebSocketConstructor
  fetch?: typeof fetch
  /**
   * Solves the registration proof of work (2^difficulty hashes, once per client key). Default: on
   * the calling thread; a browser page passes one that runs `solveProofOfWork` in a Worker.
   */
  solveProofOfWork?: (nonce: string, address: string, difficulty: number) => string | Promise<string>
}

/**
 * A wallet's connection to its backend: signs in with the client key (solving the registration
 * proof of work the first time), keeps the session fresh, and exposes interests, deliveries and a
 * self-resuming stream.
 *
 * Every method that asks the backend throws a `WalletBackendError` for an error answer: its
 * `code` (an `ErrorCode` of `@wallet-backend/sdk/protocol`) is the stable part to match on.
 * A session the server dropped before its expiry (`SESSION_INVALID`: evicted by newer sessions,
 * revoked, the client pruned) is replaced by a new sign-in and the request sent once more.
 * Besides each method's own codes, any may throw `RATE_LIMITED` (429) and the 503 codes `NOT_READY`, `STORAGE_UNAVAILABLE`,
 * `NO_LEADER` — try again after `retryAfterSeconds`. The examples assume a signed-in `client`.
 *
 * @example
 * ```ts
 * import { WalletBackendClient, WalletBackendError } from '@wallet-backend/sdk'
 * import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
 *
 * const client = new WalletBackendClient({
 *   url: 'http://127.0.0.1:8080',
 *   account: privateKeyToAccount(generatePrivateKey()),
 * })
 * await client.signIn()
 * try {
 *   await client.deleteInterest('0x5FbDB2315678afecb367f032d93F642f64180aa3')
 * } catch (error) {
 *   if (!(error instanceof WalletBackendError && error.code === 'INTEREST_NOT_FOUND')) throw error
 * }
 * ```
 */
export class WalletBackendClient {
  readonly url: string
  readonly account: LocalAccount
  readonly #fetch: typeof fetch
  readonly #WebSocket: WebSocketConstructor | undefined
  readonly #solveProofOfWork: NonNullable<ClientOptions['solveProofOfWork']>
  #token: string | undefined
  #expiresAt = 0

  constructor(options: ClientOptions) {
    this.url = options.url.replace(/\/$/, '')
    this.account = options.account
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.#WebSocket = options.WebSocket
    this.#solveProofOfWork = options.solveProofOfWork ?? solveProofOfWork
  }

  get clientId(): Hex {
    return this.account.address.toLowerCase() as Hex
  }

  /**
   * Signs in (registering the client key if the backend has not seen it) and keeps the token.
   * Other methods sign in by themselves when the session is missing or about to expire.
   * @throws {WalletBackendError} `SIGNATURE_INVALID`, `CHALLENGE_UNKNOWN`, `SIWE_*` (401: the
   *   message or its signature was refused), `PROOF_OF_WORK_INVALID` (401), `RATE_LIMITED` (429),
   *   `NOT_READY` or `NO_LEADER` (503).
   * @example
   * ```ts
   * const client = new WalletBackendClient({ url: 'http://127.0.0.1:8080', account: privateKeyToAccount(generatePrivateKey()) })
   * const { clientId, registered } = await client.signIn()
   * ```
   */
  async signIn(): Promise<{ clientId: Hex; registered: boolean }> {
    const challenge = await this.#call<{
      nonce: string
      message: string
      registration: { required: boolean; difficulty: number }
    }>('POST', '/v1/auth/challenge', { address: this.account.address }, false)
    // The message is the server's, naming the origin it announces; it is signed as it is.
    const signature = await this.account.signMessage({ message: challenge.message })
    const redeem = async (difficulty: number | undefined) => {
      const proofOfWork =
        difficulty === undefined
          ? undefined
          : await this.#solveProofOfWork(challenge.nonce, this.account.address, difficulty)
      return this.#call<{ token: string; expiresAt: string; clientId: Hex; registered: boolean }>(
        'POST',
        '/v1/auth/session',
        { message: challenge.message, signature, ...(proofOfWork !== undefined ? { proofOfWork } : {}) },
        false,
      )
    }
    let difficulty = challenge.registration.required ? challenge.registration.difficulty : undefined
    let session: Awaited<ReturnType<typeof redeem>>
    for (let attempt = 1; ; attempt++) {
      try {
        session = await redeem(difficulty)
        break
      } catch (error) {
        // Registration is priced when redeemed: in a burst the server asks more of the same nonce.
        const raised =
          error instanceof WalletBackendError && error.code === 'PROOF_OF_WORK_RAISED' && attempt < 4
        if (!raised) throw error
        difficulty = Number(error.details?.difficulty)
      }
    }
    this.#token = session.token
    this.#expiresAt = Date.parse(session.expiresAt)
    return { clientId: session.clientId, registered: session.registered }
  }

  /**
   * The client's interests in contracts, with their filters, watches and back-fill.
   * @throws {WalletBackendError} `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * for (const interest of await client.listInterests()) console.log(interest.address, interest.filters)
   * ```
   */
  async listInterests(): Promise<Interest[]> {
    return (await this.#call<{ interests: Interest[] }>('GET', '/v1/interests')).interests
  }

  /**
   * Creates or replaces the interest in a contract (deployed or not) with exactly these filters
   * and state watches; `startBlock` back-fills history first; `abi` decodes matches.
   * @throws {WalletBackendError} `INVALID_FILTER`, `INVALID_WATCH`, `INVALID_ABI`, `ABI_TOO_LARGE`,
   *   `TOO_MANY_FILTERS`, `TOO_MANY_WATCHES`, `INVALID_REQUEST` (400), `TOO_MANY_INTERESTS`,
   *   `FILTER_COST_EXCEEDED`, `BACKFILL_TOO_LARGE` (409), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * await client.putInterest('0x5FbDB2315678afecb367f032d93F642f64180aa3', { filters: [{ code: 'all', args: [] }] })
   * ```
   */
  async putInterest(
    address: Hex,
    body: { filters: Filter[]; watches?: Watch[]; startBlock?: number; abi?: unknown[] },
  ): Promise<Interest> {
    return this.#call('PUT', `/v1/interests/${address}`, body)
  }

  /**
   * Withdraws the interest in a contract; its queued items go with it.
   * @throws {WalletBackendError} `INTEREST_NOT_FOUND` (404), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * await client.deleteInterest('0x5FbDB2315678afecb367f032d93F642f64180aa3')
   * ```
   */
  async deleteInterest(address: Hex): Promise<void> {
    await this.#call('DELETE', `/v1/interests/${address}`)
  }

  /**
   * The client's account interests (its own addresses it follows).
   * @throws {WalletBackendError} `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const accounts = await client.listAccounts()
   * ```
   */
  async listAccounts(): Promise<Account[]> {
    return (await this.#call<{ accounts: Account[] }>('GET', '/v1/accounts')).accounts
  }

  /**
   * Follows everything that touches `address` in any contract (all kinds of activity unless
   * `activity` names some), with its history from `startBlock` first when given.
   * @throws {WalletBackendError} `INVALID_REQUEST` (400), `TOO_MANY_ACCOUNTS`, `BACKFILL_TOO_LARGE`
   *   (409), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * await client.putAccount(wallet.address, { activity: ['native', 'tokens'], startBlock: 0 })
   * ```
   */
  async putAccount(
    address: Hex,
    body: { activity?: AccountActivityKind[]; startBlock?: number } = {},
  ): Promise<Account> {
    return this.#call('PUT', `/v1/accounts/${address}`, body)
  }

  /**
   * Stops following an address; its queued items go with it.
   * @throws {WalletBackendError} `ACCOUNT_NOT_FOUND` (404), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * await client.deleteAccount(wallet.address)
   * ```
   */
  async deleteAccount(address: Hex): Promise<void> {
    await this.#call('DELETE', `/v1/accounts/${address}`)
  }

  /**
   * A page of the client's queue: items after `after` (and after the acknowledged cursor),
   * oldest first.
   * @throws {WalletBackendError} `INVALID_REQUEST` (400: a cursor or limit out of range),
   *   `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { items, lastCursor } = await client.deliveries({ after: 0, limit: 100 })
   * if (items.length > 0) await client.ack(items.at(-1)!.cursor)
   * ```
   */
  async deliveries(options: { after?: number; limit?: number } = {}): Promise<DeliveriesPage> {
    const query = new URLSearchParams()
    if (options.after !== undefined) query.set('after', String(options.after))
    if (options.limit !== undefined) query.set('limit', String(options.limit))
    return this.#call('GET', `/v1/deliveries${query.size ? `?${query}` : ''}`)
  }

  /**
   * Submits a signed raw transaction (to one of the client's interests, or a contract creation)
   * and returns its record; status changes then arrive as `submitted-status` items. Sending the
   * same bytes again is safe: it answers the existing record. A WalletBackendError with status 503
   * means nothing was recorded; try again after its Retry-After.
   * @throws {WalletBackendError} `TX_*` (400/413: a transaction that can never be accepted as it is),
   *   `NONCE_TOO_LOW`, `REPLACEMENT_UNDERPRICED`, `TOO_MANY_PENDING_SUBMISSIONS` (409),
   *   `NODE_UNAVAILABLE` (503: nothing recorded; send again after `retryAfterSeconds`).
   * @example
   * ```ts
   * const submission = await client.submitTransaction(await wallet.signTransaction(request))
   * ```
   */
  async submitTransaction(raw: Hex): Promise<Submission> {
    return this.#call('POST', '/v1/transactions', { raw })
  }

  /**
   * Makes a key for the backend's Ethereum JSON-RPC endpoint, for a wallet that keeps its viem or
   * ethers provider: `url` (absolute) is the provider URL for HTTP, and with `ws://`/`wss://` for
   * a WebSocket. The key is shown once; keep it like the session.
   * @throws {WalletBackendError} `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { url } = await client.createRpcKey()
   * const viem = createPublicClient({ transport: http(url) })
   * ```
   */
  async createRpcKey(): Promise<{ id: number; key: string; url: string }> {
    const created = await this.#call<{ id: number; key: string; url: string }>('POST', '/v1/rpc-keys')
    return { ...created, url: `${this.url}${created.url}` }
  }

  /**
   * Revokes a JSON-RPC key made by `createRpcKey` (every instance refuses it within seconds).
   * @throws {WalletBackendError} `RPC_KEY_NOT_FOUND` (404), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * await client.deleteRpcKey(id)
   * ```
   */
  async deleteRpcKey(id: number): Promise<void> {
    await this.#call('DELETE', `/v1/rpc-keys/${id}`)
  }

  /**
   * The current status of a transaction this client submitted.
   * @throws {WalletBackendError} `TRANSACTION_NOT_FOUND` (404), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { status, confirmations } = await client.getTransaction(submission.hash)
   * ```
   */
  async getTransaction(hash: Hex): Promise<Submission> {
    return this.#call('GET', `/v1/transactions/${hash}`)
  }

  /**
   * A stored block header, by hash or canonical number: what proofs are checked against.
   * @throws {WalletBackendError} `BLOCK_NOT_FOUND` (404: not stored, not reached yet or pruned),
   *   `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { header } = await client.block(item.block!.hash)
   * ```
   */
  async block(ref: Hex | number): Promise<{
    number: number
    hash: Hex
    canonical: boolean
    /** False for a block the backend took on its node's word: nothing in it is proven but its state. */
    verified: boolean
    header: BlockHeader
  }> {
    return this.#call('GET', `/v1/blocks/${ref}`)
  }

  /**
   * A Merkle-Patricia proof of the receipt at `index` of a stored block.
   * @throws {WalletBackendError} `BLOCK_NOT_FOUND` (404), `INDEX_OUT_OF_RANGE` (400),
   *   `BLOCK_NOT_CANONICAL` (409), `NODE_UNAVAILABLE` or `NODE_BLOCK_MISSING` (503).
   * @example
   * ```ts
   * const { receipt, proof } = await client.receiptProof(item.block!.hash, item.txIndex!)
   * ```
   */
  async receiptProof(
    blockHash: Hex,
    index: number,
  ): Promise<{
    block: { number: number; hash: Hex }
    receiptsRoot: Hex
    index: number
    receipt: Receipt
    proof: Hex[]
  }> {
    return this.#call('GET', `/v1/proofs/receipt?block=${blockHash}&index=${index}`)
  }

  /**
   * A Merkle-Patricia proof of the transaction at `index` of a stored block: its signed bytes.
   * @throws {WalletBackendError} as `receiptProof`, and `NODE_DATA_INCONSISTENT` (502).
   * @example
   * ```ts
   * const proven = await verifyTransactionProof(header, await client.transactionProof(item.block!.hash, item.txIndex!))
   * ```
   */
  async transactionProof(blockHash: Hex, index: number): Promise<TransactionProof> {
    return this.#call('GET', `/v1/proofs/transaction?block=${blockHash}&index=${index}`)
  }

  /**
   * An EIP-1186 proof of an interest's account and `slots` at a stored block.
   * @throws {WalletBackendError} `INTEREST_NOT_FOUND` (404: only an interest's state is proven),
   *   `BLOCK_NOT_FOUND` (404), `NODE_UNAVAILABLE` (503).
   * @example
   * ```ts
   * const { proof } = await client.stateProof(interest.address, item.block!.hash, ['0x0'])
   * ```
   */
  async stateProof(
    address: Hex,
    blockHash: Hex,
    slots: Hex[] = [],
  ): Promise<{ block: { number: number; hash: Hex }; stateRoot: Hex; proof: AccountProof }> {
    const query = slots.length > 0 ? `&slots=${slots.join(',')}` : ''
    return this.#call('GET', `/v1/proofs/state?address=${address}&block=${blockHash}${query}`)
  }

  /**
   * Checks an item against the chain instead of trusting the backend: its block header must hash
   * to the item's block hash, and its receipt and log (`tx`, `log`), its transaction (`tx`: hash,
   * sender, recipient, value, input) or its value (`state` of an account field or slot) must be
   * proven against that header's roots. Returns the verified header; where the block hash itself
   * is trusted from (a light client, a second node) is the caller's choice. View-call values cannot
   * be proven without executing the EVM and are refused as such.
   * @throws {ProofVerificationError} `NOT_PROVABLE` (nothing of the item can be proven) or
   *   `VALUE_MISMATCH` (the backend's item differs from what the chain proves); any error of the
   *   proof methods above.
   * @example
   * ```ts
   * client.stream({ onItem: async (item) => { await client.verifyItem(item) } })
   * ```
   */
  async verifyItem(item: DeliveryItem): Promise<BlockHeader> {
    if (!item.block) throw new ProofVerificationError('NOT_PROVABLE', `a ${item.kind} item names no block`)
    const { header, verified } = await this.block(item.block.hash)
    verifyBlockHeader(header, item.block.hash)
    // The header is the chain's, but the backend could not check the block's transactions and
    // receipts against it: only state, proven against the state root, still is.
    if (verified === false && item.kind !== 'state') {
      throw new ProofVerificationError(
        'BLOCK_NOT_VERIFIED',
        `block ${item.block.hash} holds transaction types the backend cannot check: its transactions and receipts are not proven`,
      )
    }
    if ((item.kind === 'tx' || item.kind === 'log') && item.txIndex !== null) {
      const { receipt, proof } = await this.receiptProof(item.block.hash, item.txIndex)
      await verifyReceiptProof({ receiptsRoot: header.receiptsRoot, index: item.txIndex, receipt, proof })
      const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)
      if (item.kind === 'log') {
        const proven = receipt.logs.find((log) => Number(log.logIndex) === item.logIndex)
        const { address, topics, data } = item.log ?? {}
        if (
          !proven ||
          !same(
            [address?.toLowerCase(), topics, data],
            [proven.address.toLowerCase(), proven.topics, proven.data],
          )
        ) {
          throw new ProofVerificationError(
            'VALUE_MISMATCH',
            `log ${item.logIndex} differs from the proven receipt's`,
          )
        }
      } else {
        if (item.receipt && !same(encodeReceipt(item.receipt as Receipt), encodeReceipt(receipt))) {
          throw new ProofVerificationError('VALUE_MISMATCH', 'the receipt differs from the proven one')
        }
        if (item.tx) {
          const proven = await verifyTransactionProof(
            header,
            await this.transactionProof(item.block.hash, item.txIndex),
          )
          checkItemTransaction(item, proven)
        }
      }
      return header
    }
    if (item.kind === 'account' && item.txIndex !== null) {
      const activity = item.data
      if (item.logIndex !== null) {
        const { receipt, proof } = await this.receiptProof(item.block.hash, item.txIndex)
        await verifyReceiptProof({ receiptsRoot: header.receiptsRoot, index: item.txIndex, receipt, proof })
        checkAccountLog(activity, item.logIndex, receipt)
        return header
      }
      if (activity.type === 'internal')
        throw new ProofVerificationError('NOT_PROVABLE', 'an internal transfer is in no root of the block')
      const proof = await this.transactionProof(item.block.hash, item.txIndex)
      checkAccountTransaction(activity, await verifyTransactionProof(header, proof))
      return header
    }
    if (item.kind === 'state' && item.interest) {
      const change = item.data
      const kind = change.watch.kind
      if (kind === 'call')
        throw new ProofVerificationError('NOT_PROVABLE', 'a view call result is computed, not stored')
      const slot =
        kind === 'slot' ? (change.value === undefined ? undefined : (change.watch.args[0] as Hex)) : undefined
      const { proof } = await this.stateProof(item.interest, item.block.hash, slot ? [slot] : [])
      const account = await verifyAccountProof(header.stateRoot, proof)
      const proven =
        kind === 'slot'
          ? [...account.storage.values()][0]
          : {
              balance: account.balance,
              nonce: account.nonce,
              codeHash: account.codeHash,
              storageRoot: account.storageRoot,
            }[kind]
      if (proven === undefined || BigInt(proven) !== BigInt(change.value as Hex)) {
        throw new ProofVerificationError('VALUE_MISMATCH', `the ${kind} differs from the proven value`)
      }
      return header
    }
    throw new ProofVerificationError('NOT_PROVABLE', `nothing of a ${item.kind} item is proven yet`)
  }

  /**
   * Metered usage, stored data and limits of this client.
   * @throws {WalletBackendError} `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { usage, limits } = await client.usage()
   * ```
   */
  async usage(): Promise<{
    plan: string
    usage: Record<
      | 'requests'
      | 'filterWork'
      | 'itemsQueued'
      | 'bytesQueued'
      | 'bytesDelivered'
      | 'submissions'
      | 'backfillCalls'
      | 'stateReads',
      number
    >
    stored: Record<'interests' | 'filters' | 'backlogItems' | 'backlogBytes' | 'walletStateBytes', number>
    limits: Record<string, number>
  }> {
    return this.#call('GET', '/v1/usage')
  }

  /**
   * Acknowledges every item up to and including `cursor`: never sent again.
   * @throws {WalletBackendError} `CURSOR_OUT_OF_RANGE` (400: beyond the last queued item),
   *   `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { acked } = await client.ack(lastCursor)
   * ```
   */
  async ack(cursor: number): Promise<{ acked: number }> {
    return this.#call('POST', '/v1/deliveries/ack', { cursor })
  }

  /**
   * Pushed deliveries. The stream reconnects by itself after a drop (new sign-in when the session
   * expired) and resumes after the last cursor it handed over, so nothing is skipped; items not
   * yet acknowledged may come again after a reconnect, in order.
   * Never throws: errors go to `onError` as a `StreamError` with a `code` (an `error` frame's code,
   * `STREAM_CLOSED`, `SIGN_IN_FAILED`, `ITEM_HANDLER_FAILED`).
   * @example
   * ```ts
   * const stream = client.stream({ onItem: (item) => stream.ack(item.cursor), onError: (error) => console.warn(error.code) })
   * // or acknowledged by the stream once each onItem returned:
   * client.stream({ autoAck: true, onItem: async (item) => { await saveToWallet(item) } })
   * // later: stream.close()
   * ```
   */
  stream(options: StreamOptions): Stream {
    return openStream(
      {
        webSocket: async () => this.#WebSocket ?? defaultWebSocket(),
        url: async (after) => {
          const registered = await this.#ensureSession()
          return {
            url: `${this.url.replace(/^http/, 'ws')}/v1/stream?after=${after}&token=${encodeURIComponent(this.#token!)}`,
            registered,
          }
        },
        sessionRefused: () => {
          this.#token = undefined
        },
      },
      options,
    )
  }

  /**
   * The stored (encrypted) wallet state and its ETag, or undefined when none is stored yet.
   * @throws {WalletBackendError} `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const stored = await client.getWalletState()
   * ```
   */
  async getWalletState(): Promise<{ envelope: string; etag: string } | undefined> {
    const response = await this.#authorizedFetch('/v1/wallet-state')
    if (response.status === 404) return undefined
    if (!response.ok) throw await errorOf(response)
    return { envelope: await response.text(), etag: unquote(response.headers.get('etag') ?? '') }
  }

  /**
   * Stores a new wallet state if the stored one still has `expectedEtag` (or, with `undefined`,
   * if none is stored yet). A WalletBackendError with status 412 means someone else wrote first.
   * @throws {WalletBackendError} `PRECONDITION_FAILED` (412: someone else wrote first; load and
   *   merge), `WALLET_STATE_TOO_LARGE` (413), `RATE_LIMITED` (429), 503 codes.
   * @example
   * ```ts
   * const { etag } = await client.putWalletState(envelope, stored?.etag)
   * ```
   */
  async putWalletState(
    envelope: string,
    expectedEtag: string | undefined,
  ): Promise<{ etag: string; version: number }> {
    const response = await this.#authorizedFetch('/v1/wallet-state', {
      method: 'PUT',
      headers: {
        'content-type': 'application/jose',
        ...(expectedEtag === undefined ? { 'if-none-match': '*' } : { 'if-match': `"${expectedEtag}"` }),
      },
      body: envelope,
    })
    if (!response.ok) throw await errorOf(response)
    return (await response.json()) as { etag: string; version: number }
  }

  /** Signs in when there is no session or it is about to expire; whether that registered the key. */
  async #ensureSession(): Promise<boolean> {
    if (this.#token && Date.now() <= this.#expiresAt - 30_000) return false
    return (await this.signIn()).registered
  }

  /** Sends with the session token; a session the server dropped before its expiry is replaced once. */
  async #authorizedFetch(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Response> {
    await this.#ensureSession()
    const send = () =>
      this.#fetch(`${this.url}${path}`, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${this.#token}` },
      })
    const response = await send()
    if (response.status !== 401) return response
    // Evicted by newer sessions, revoked, or the client pruned: sign in again and ask once more.
    const error = await errorOf(response)
    if (error.code !== 'SESSION_INVALID') throw error
    this.#token = undefined
    await this.#ensureSession()
    return send()
  }

  async #call<T>(method: string, path: string, body?: unknown, authenticated = true): Promise<T> {
    const init = {
      method,
      headers: (body !== undefined ? { 'content-type': 'application/json' } : {}) as Record<string, string>,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    }
    const response = authenticated
      ? await this.#authorizedFetch(path, init)
      : await this.#fetch(`${this.url}${path}`, init)
    if (response.status === 204) return undefined as T
    if (!response.ok) throw await errorOf(response)
    const text = await response.text()
    return (text ? JSON.parse(text) : {}) as T
  }
}

const unquote = (etag: string) => etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1')

function toError(response: Response, json: Record<string, unknown>): WalletBackendError {
  return new WalletBackendError(
    String(json.code ?? 'HTTP_ERROR'),
    String(json.message ?? response.statusText),
    response.status,
    json.details as Record<string, unknown> | undefined,
    parseRetryAfter(response.headers.get('retry-after')),
  )
}

async function errorOf(response: Response): Promise<WalletBackendError> {
  const text = await response.text()
  let json: Record<string, unknown> = {}
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
  } catch {}
  return toError(response, json)
}
