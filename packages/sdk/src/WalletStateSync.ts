import {
  appendEvent,
  createContainer,
  decryptContainer,
  encryptContainer,
  type FoldPolicy,
  foldContainer,
  mergeContainers,
  NoCommonAncestorError,
  type WalletStateContainer,
  type WalletStateKey,
} from '@wallet-backend/wallet-state'
import { WalletBackendError } from './errors.js'
import type { WalletBackendClient } from './WalletBackendClient.js'

export type SyncResult = { etag: string; attempts: number; merged: boolean }

/**
 * One device's copy of the wallet state, kept in step with the backend: edits are local and
 * immediate (also offline); `sync()` pushes them with the ETag it last saw, and when another device
 * wrote first (412) it fetches, decrypts, merges and tries again — no new sign-in needed, since
 * every device of the wallet derives the same key.
 */
export class WalletStateSync {
  #container: WalletStateContainer
  #etag: string | undefined
  /** eventIds made on this device and never stored: they can be re-applied onto another history. */
  #unshared = new Set<string>()

  constructor(
    readonly client: WalletBackendClient,
    readonly key: WalletStateKey,
    readonly options: { maxAttempts?: number; fold?: FoldPolicy } = {},
  ) {
    this.#container = createContainer()
  }

  get container(): WalletStateContainer {
    return this.#container
  }

  /** Fetches the stored state (if any) and adopts it, keeping local edits not yet stored. */
  async load(): Promise<void> {
    const remote = await this.client.getWalletState()
    if (!remote) return
    this.#absorb(await decryptContainer(remote.envelope, this.key), remote.etag)
  }

  /** Applies an edit locally; it reaches the backend with the next sync. */
  edit(
    type: string,
    payload: Record<string, unknown>,
    options?: { timestampSeconds?: number; eventId?: string },
  ): void {
    this.#container = appendEvent(this.#container, type, payload, options)
    this.#unshared.add(this.#container.events.at(-1)!.eventId)
  }

  async sync(): Promise<SyncResult> {
    const maxAttempts = this.options.maxAttempts ?? 5
    let merged = false
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const toStore = this.options.fold ? foldContainer(this.#container, this.options.fold) : this.#container
      try {
        const { etag } = await this.client.putWalletState(
          await encryptContainer(toStore, this.key),
          this.#etag,
        )
        this.#container = toStore
        this.#etag = etag
        this.#unshared.clear()
        return { etag, attempts: attempt, merged }
      } catch (error) {
        if (!(error instanceof WalletBackendError) || error.status !== 412) throw error
        const remote = await this.client.getWalletState()
        if (!remote) {
          this.#etag = undefined
          continue
        }
        this.#absorb(await decryptContainer(remote.envelope, this.key), remote.etag)
        merged = true
      }
    }
    throw new WalletBackendError(
      'SYNC_GAVE_UP',
      `wallet state still contended after ${maxAttempts} attempts`,
      409,
    )
  }

  #absorb(remote: WalletStateContainer, etag: string): void {
    try {
      this.#container = mergeContainers(this.#container, remote)
    } catch (error) {
      if (!(error instanceof NoCommonAncestorError)) throw error
      // Our history was never stored (a first state made on this device while another device made
      // its own): replay our own edits onto the stored history instead.
      let rebased = remote
      for (const event of this.#container.events) {
        if (!this.#unshared.has(event.eventId)) continue
        rebased = appendEvent(rebased, event.type, event.payload, {
          timestampSeconds: event.timestampSeconds,
          eventId: event.eventId,
        })
      }
      this.#container = rebased
    }
    this.#etag = etag
  }
}
