import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../server/test/support/waitUntil.js'
import { type DeliveryItem, StreamError, WalletBackendError } from '../src/index.js'
import { freshAddress, type LiveBackend, startLiveBackend } from './support/liveBackend.js'

let live: LiveBackend

beforeAll(async () => {
  // A small cost burst, so that one client can run into 429 quickly; the rest stay well below it.
  live = await startLiveBackend(['--client-cost-burst', '60', '--client-cost-per-second', '2'])
}, 180_000)

afterAll(async () => {
  await live?.stop()
})

/** A signed-in client with an interest in every transaction to a fresh address, and a stream of it. */
async function streaming(options: { onItem?: (item: DeliveryItem) => void; autoAck?: boolean } = {}) {
  const client = live.client()
  await client.signIn()
  const address = freshAddress()
  await client.putInterest(address, { filters: [{ code: 'all', args: [] }] })
  const items: DeliveryItem[] = []
  const acked: number[] = []
  const errors: StreamError[] = []
  let opened = 0
  const stream = client.stream({
    onItem: (item) => {
      options.onItem?.(item)
      items.push(item)
    },
    onAcked: (cursor) => acked.push(cursor),
    onError: (error) => errors.push(error as StreamError),
    onOpen: () => {
      opened += 1
    },
    minReconnectMs: 50,
    maxReconnectMs: 500,
    autoAck: options.autoAck ?? false,
  })
  await waitUntil(() => opened > 0, 30_000, 'the stream to open')
  return { client, address, items, acked, errors, stream, opened: () => opened }
}

describe('the SDK against a live backend', () => {
  it('finds a WebSocket by itself on Node 20, streams items in order, and reports the acks the server confirms', async () => {
    expect((globalThis as { WebSocket?: unknown }).WebSocket).toBeUndefined()
    const { client, address, items, acked, stream } = await streaming()
    await live.transfer(address)
    await live.transfer(address)
    await waitUntil(() => items.length >= 2, 30_000, 'two items')
    expect(items.map((item) => item.kind)).toEqual(['tx', 'tx'])
    expect(items[1]!.cursor).toBeGreaterThan(items[0]!.cursor)
    stream.ack(items[1]!.cursor)
    await waitUntil(() => stream.ackedCursor === items[1]!.cursor, 30_000, 'the ack to be confirmed')
    expect(acked).toContain(items[1]!.cursor)
    // The server agrees: nothing is left to fetch.
    expect((await client.deliveries()).items).toEqual([])
    const header = await client.verifyItem(items[0]!)
    expect(header.hash).toBe(items[0]!.block!.hash)
    stream.close()
  })

  it('reports an ack the server refuses as a StreamError with its code, and sends a later valid one', async () => {
    const { address, items, errors, stream } = await streaming()
    await live.transfer(address)
    await waitUntil(() => items.length >= 1, 30_000, 'an item')
    stream.ack(items[0]!.cursor + 1_000)
    await waitUntil(() => errors.some((error) => error.code === 'CURSOR_OUT_OF_RANGE'), 30_000, 'the refusal')
    expect(errors.find((error) => error.code === 'CURSOR_OUT_OF_RANGE')).toBeInstanceOf(StreamError)
    stream.ack(items[0]!.cursor)
    await waitUntil(() => stream.ackedCursor === items[0]!.cursor, 30_000, 'the valid ack to be confirmed')
    stream.ack(-1)
    expect(errors.at(-1)?.code).toBe('INVALID_CURSOR')
    stream.close()
  })

  it('never throws on ack while the backend restarts after kill -9, and sends an ack made while it was down once the stream is open again', async () => {
    const { address, items, errors, stream, opened } = await streaming()
    await live.transfer(address)
    await live.transfer(address)
    await waitUntil(() => items.length >= 2, 30_000, 'two items')
    const thrown: unknown[] = []
    // Acks as fast as timers fire, through the drop, the reconnect attempts and the new socket.
    const hammer = setInterval(() => {
      try {
        stream.ack(items[0]!.cursor)
      } catch (error) {
        thrown.push(error)
      }
    }, 1)
    try {
      await live.backend.kill()
      await waitUntil(() => errors.some((error) => error.code === 'STREAM_CLOSED'), 30_000, 'the drop')
      // Made only while the backend is down: nothing but the stream's own reconnect can send it.
      stream.ack(items[1]!.cursor)
      const openedBefore = opened()
      await live.backend.start()
      await waitUntil(() => opened() > openedBefore, 60_000, 'the stream to reconnect')
      await waitUntil(
        () => stream.ackedCursor === items[1]!.cursor,
        30_000,
        'the waiting ack to be confirmed',
      )
    } finally {
      clearInterval(hammer)
    }
    expect(thrown).toEqual([])
    // And the stream goes on: a new item after the restart comes through.
    await live.transfer(address)
    await waitUntil(() => items.length >= 3, 30_000, 'an item after the restart')
    expect(items[2]!.cursor).toBeGreaterThan(items[1]!.cursor)
    stream.close()
    // A restart of PGlite takes many seconds on a loaded machine.
  }, 240_000)

  it('with autoAck, acknowledges what onItem handled, and not an item whose handler threw', async () => {
    let failures = 0
    const { client, address, items, errors, stream } = await streaming({
      autoAck: true,
      onItem: () => {
        if (failures++ === 1) throw new Error('the wallet could not store it')
      },
    })
    await live.transfer(address)
    await waitUntil(() => stream.ackedCursor === items[0]?.cursor, 30_000, 'the first item acknowledged')
    // The second item's handler throws: it is not acknowledged, comes again and is then.
    await live.transfer(address)
    await waitUntil(() => items.length >= 2, 30_000, 'the second item handled on its second delivery')
    expect(errors.map((error) => error.code)).toContain('ITEM_HANDLER_FAILED')
    await waitUntil(() => stream.ackedCursor === items[1]!.cursor, 30_000, 'the second item acknowledged')
    expect((await client.deliveries()).items).toEqual([])
    stream.close()
  })

  it('an onItem that throws is reported and the item comes again after a reconnect, in order', async () => {
    let failures = 0
    const { address, items, errors, stream, opened } = await streaming({
      onItem: () => {
        if (failures++ === 0) throw new Error('the wallet could not store it')
      },
    })
    await live.transfer(address)
    await live.transfer(address)
    await waitUntil(() => items.length >= 2, 30_000, 'both items handled')
    expect(errors.map((error) => error.code)).toContain('ITEM_HANDLER_FAILED')
    expect(opened()).toBeGreaterThanOrEqual(2)
    expect(items[1]!.cursor).toBeGreaterThan(items[0]!.cursor)
    expect(stream.lastCursor).toBe(items[1]!.cursor)
    stream.close()
  })

  it('answers a browser page of another origin: preflights without a session, ETag and Retry-After exposed', async () => {
    const preflight = await fetch(`${live.backend.url}/v1/wallet-state`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://wallet.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'authorization, content-type, if-match',
      },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT')
    expect(preflight.headers.get('access-control-allow-headers')).toContain('if-match')
    const refused = await fetch(`${live.backend.url}/v1/interests`, {
      headers: { origin: 'https://wallet.example' },
    })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('access-control-allow-origin')).toBe('*')
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/etag.*retry-after/)
  })

  it("carries the server's Retry-After as retryAfterSeconds on a 429", async () => {
    const client = live.client()
    await client.signIn()
    const answers = await Promise.all(
      Array.from({ length: 80 }, () =>
        client.usage().then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    )
    const refused = answers.find((answer) => answer instanceof WalletBackendError)
    expect(refused).toBeInstanceOf(WalletBackendError)
    expect((refused as WalletBackendError).status).toBe(429)
    expect((refused as WalletBackendError).retryAfterSeconds).toBeGreaterThanOrEqual(1)
  })
})
