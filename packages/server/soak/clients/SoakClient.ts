import type { DeliveryItem, Hex, WalletBackendClient } from '@wallet-backend/sdk'
import type WebSocket from 'ws'
import type { ClientRecord, SoakInterest } from '../observations.js'
import type { Random } from '../random.js'

/** Counters of one client's life in a run, for the summary. */
export type ClientStats = {
  connections: number
  acksConfirmed: number
  /** `error` frames and failed requests: expected while the backend is down, shown for the record. */
  errors: number
}

/** A wallet client under test: connects, consumes, acknowledges, and records everything it saw. */
export interface SoakClient {
  readonly record: ClientRecord
  readonly stats: ClientStats
  /** Its id at the backend, once signed in. */
  readonly clientId: Hex | undefined
  /** Signs in (registering) and installs its interests and accounts. */
  setUp(): Promise<void>
  /** Starts consuming; runs until `stop()`. */
  start(): void
  /** A chaos event: the connection drops (or the client goes quiet) and comes back by itself. */
  disconnect(random: Random): void
  stop(): Promise<void>
}

/**
 * What every kind of client shares: the record of items with the acknowledgement the server had
 * confirmed when each arrived, and the stream frames' interpretation.
 */
export class Observer {
  readonly record: ClientRecord
  readonly stats: ClientStats = { connections: 0, acksConfirmed: 0, errors: 0 }
  /** Highest acknowledged cursor the server confirmed. */
  confirmedAck = 0
  /** Highest cursor received. */
  lastCursor = 0
  /** Told of each `gap` item (and its repeats) as it arrives. */
  onGap: ((gap: { fromBlock: number; toBlock: number }) => void) | undefined

  constructor(name: string, interests: SoakInterest[]) {
    this.record = { name, interests, received: [] }
  }

  item(item: DeliveryItem, via: string, ackedBefore = this.confirmedAck): void {
    this.record.received.push({ item, ackedBefore, via })
    this.lastCursor = Math.max(this.lastCursor, item.cursor)
    if (item.kind === 'gap' && item.data)
      this.onGap?.({ fromBlock: Number(item.data.fromBlock), toBlock: Number(item.data.toBlock) })
  }

  acked(cursor: number): void {
    this.stats.acksConfirmed++
    this.confirmedAck = Math.max(this.confirmedAck, cursor)
  }

  /** One stream frame as text; returns the item it carried, if any. */
  frame(text: string, via: string): DeliveryItem | undefined {
    const message = JSON.parse(text) as { type: string; item?: DeliveryItem; cursor?: number }
    if (message.type === 'acked' && typeof message.cursor === 'number') this.acked(message.cursor)
    else if (message.type === 'error') this.stats.errors++
    else if (message.type === 'item' && message.item) {
      this.item(message.item, via)
      return message.item
    }
    return undefined
  }
}

/** What the three kinds of client do alike: keep an observer, sign in, install their interests. */
export abstract class SoakClientBase implements SoakClient {
  clientId: Hex | undefined

  constructor(
    readonly observer: Observer,
    readonly sdk: WalletBackendClient,
    protected readonly random: Random,
  ) {}

  get record(): ClientRecord {
    return this.observer.record
  }

  get stats(): ClientStats {
    return this.observer.stats
  }

  async setUp(): Promise<void> {
    this.clientId = (await this.sdk.signIn()).clientId
    for (const { address, filter, watches, startBlock } of this.observer.record.interests) {
      await this.sdk.putInterest(address, {
        filters: filter ? [filter] : [],
        ...(watches ? { watches } : {}),
        ...(startBlock !== undefined ? { startBlock } : {}),
      })
    }
    for (const { address, activity } of this.observer.record.accounts ?? [])
      await this.sdk.putAccount(address, { activity })
  }

  abstract start(): void
  abstract disconnect(random: Random): void
  abstract stop(): Promise<void>
}

/** A dropped connection: torn down without a close handshake, or closed by the client. */
export function dropSocket(socket: WebSocket | undefined, random: Random): void {
  if (!socket) return
  if (random.chance(0.5)) socket.terminate()
  else socket.close(4000, 'soak: client goes away')
}
