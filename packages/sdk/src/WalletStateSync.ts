import {
  appendEvent,
  createContainer,
  decryptContainer,
  encryptContainer,
  type FoldPolicy,
  foldContainer,
  mergeContainers,
  mergeContainersAsync,
  NoCommonAncestorError,
  type WalletStateContainer,
  type WalletStateKey,
} from '@wallet-backend/wallet-state'
import { WalletBackendError } from './errors.js'
import type { WalletBackendClient } from './WalletBackendClient.js'

export type SyncResult = { etag: string; attempts: number; merged: boolean }

export type WalletStateSyncOptions = {
  /** Gives up (WalletBackendError SYNC_GAVE_UP, 409) after this many contended attempts; default: never. */
  maxAttempts?: number
  /** How the log is folded before it is stored (see DEFAULT_SYNC_FOLD_POLICY). */
  fold?: FoldPolicy
  /** First backoff ceiling after a lost race, doubled per attempt up to maxBackoffMs (default 50 ms). */
  baseBackoffMs?: number
  /** Backoff ceiling (default 2 s). */
  maxBackoffMs?: number
  /**
   * How long a sync keeps retrying while the backend cannot be reached or answers 5xx (a restart,
   * a deploy), before it throws the last such error (default 30 s).
   */
  unreachableRetryMs?: number
}

/**
 * Folding before each store keeps the envelope well under the server's default wallet-state limit
 * (1 MiB of ciphertext, about 0.75 MiB of container after base64url): at most 300 recent events
 * and 256 kB of them; the base state holds the rest.
 */
export const DEFAULT_SYNC_FOLD_POLICY: Readonly<FoldPolicy> = Object.freeze({
  maxEvents: 300,
  maxBytes: 256_000,
  maxAgeSeconds: 30 * 86_400,
})

/**
 * One device's copy of the wallet state, kept in step with the backend: edits are local and
 * immediate (also offline); `sync()` pushes them with the ETag it last saw, and when another device
 * wrote first (412) it fetches, decrypts, merges and tries again after a random backoff — no new
 * sign-in needed, since every device of the wallet derives the same key. Edits made while a sync
 * is under way are kept, and go out with the next one.
 */
export class WalletStateSync {
  #container: WalletStateContainer
  #etag: string | undefined
  /** Whether this device's history is the stored wallet's (loaded or stored once): then a stored state of another wallet is an error, not something to join. */
  #joined = false
  /** The load or sync under way: calls made meanwhile wait for it, then run (they may carry newer edits). */
  #running: Promise<unknown> = Promise.resolve()

  constructor(
    readonly client: WalletBackendClient,
    readonly key: WalletStateKey,
    readonly options: WalletStateSyncOptions = {},
  ) {
    this.#container = createContainer()
  }

  get container(): WalletStateContainer {
    return this.#container
  }

  /** Fetches the stored state (if any) and merges it in, keeping local edits not yet stored. */
  load(): Promise<void> {
    return this.#inTurn(async () => {
      const remote = await this.client.getWalletState()
      if (!remote) return
      await this.#absorb(await decryptContainer(remote.envelope, this.key), remote.etag)
    })
  }

  /** Applies an edit locally; it reaches the backend with the next sync. */
  edit(
    type: string,
    payload: Record<string, unknown>,
    options?: { timestampSeconds?: number; eventId?: string },
  ): void {
    this.#container = appendEvent(this.#container, type, payload, options)
  }

  /**
   * Stores this device's state, merged with whatever another device stored meanwhile. Settles on
   * its own under contention (exponential backoff with full jitter); `signal` stops it between
   * attempts. Concurrent calls (and loads) run one after the other.
   */
  sync(options: { signal?: AbortSignal } = {}): Promise<SyncResult> {
    return this.#inTurn(() => this.#sync(options.signal))
  }

  /** Runs `task` after the load or sync under way, so that two never mix their ETags. */
  #inTurn<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#running.then(task, task)
    this.#running = run.catch(() => undefined)
    return run
  }

  async #sync(signal: AbortSignal | undefined): Promise<SyncResult> {
    const maxAttempts = this.options.maxAttempts ?? Number.POSITIVE_INFINITY
    const policy = this.options.fold ?? DEFAULT_SYNC_FOLD_POLICY
    let merged = false
    let unreachableSince: number | undefined
    let contended = 0
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted()
      try {
        if (contended > 0) {
          const remote = await this.client.getWalletState()
          if (remote) await this.#absorb(await decryptContainer(remote.envelope, this.key), remote.etag)
          else this.#etag = undefined
          merged = true
        }
        const toStore = foldContainer(this.#container, policy)
        const { etag } = await this.client.putWalletState(
          await encryptContainer(toStore, this.key),
          this.#etag,
        )
        // Edits made while the request was out are in #container, not in what was stored: the
        // device keeps both.
        await this.#mergeIn(toStore)
        this.#etag = etag
        this.#joined = true
        return { etag, attempts: attempt, merged }
      } catch (error) {
        if (error instanceof WalletBackendError && error.status === 412) {
          contended += 1
          if (contended >= maxAttempts) {
            throw new WalletBackendError(
              'SYNC_GAVE_UP',
              `wallet state still contended after ${maxAttempts} attempts`,
              409,
            )
          }
        } else if (isUnreachable(error)) {
          unreachableSince ??= Date.now()
          if (Date.now() - unreachableSince > (this.options.unreachableRetryMs ?? 30_000)) throw error
        } else {
          throw error
        }
        await this.#backoff(attempt, signal)
      }
    }
  }

  /** Full jitter: a random wait up to a ceiling that doubles per lost race. */
  async #backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const base = this.options.baseBackoffMs ?? 50
    const cap = this.options.maxBackoffMs ?? 2_000
    const ceiling = Math.min(cap, base * 2 ** Math.min(attempt - 1, 20))
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.random() * ceiling)
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        { once: true },
      )
    })
  }

  async #absorb(remote: WalletStateContainer, etag: string): Promise<void> {
    try {
      await this.#mergeIn(remote)
    } catch (error) {
      if (!(error instanceof NoCommonAncestorError) || this.#joined) throw error
      // This device's history was never stored (a first state made here while another device made
      // its own): it joins the stored wallet, its edits keeping their own stamps.
      await this.#mergeIn(remote, true)
    }
    this.#joined = true
    this.#etag = etag
  }

  /**
   * Merges `other` into the device's container. The merge yields to the event loop, so edits may
   * land meanwhile: then the result is merged with the container as it is now. An app editing at
   * every turn of the event loop would keep that going for ever, so after a few rounds the last
   * merge runs synchronously, with no room for another edit.
   */
  async #mergeIn(other: WalletStateContainer, adopt = false): Promise<void> {
    let incoming = other
    for (let round = 1; round <= MAX_YIELDING_MERGES; round++) {
      const base = this.#container
      const merged = await mergeContainersAsync(incoming, base, { adopt })
      if (this.#container === base) {
        this.#container = merged
        return
      }
      incoming = merged
    }
    this.#container = mergeContainers(incoming, this.#container, { adopt })
  }
}

/** Merges that yield to the event loop before one that does not (see #mergeIn). */
const MAX_YIELDING_MERGES = 3

/** A failure that a later attempt may not meet: no answer at all, or a 5xx. */
function isUnreachable(error: unknown): boolean {
  if (error instanceof WalletBackendError) return error.status >= 500
  return error instanceof TypeError
}
