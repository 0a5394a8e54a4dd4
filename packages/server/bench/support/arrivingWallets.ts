// Wallets of the arrival benchmark, in a process of their own (forked by `arrival.bench.ts`) so
// that their signing, hashing and parsing is not charged to the backend's process or measured
// through its event loop. Driven by messages: `prepare` makes the keys, `go` has every wallet sign
// in, register two interests and open its stream at once, `watchReopen` reports when every stream
// opened again (the backend restarting), `close` ends them.
import { type Stream, StreamError, WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'

export type ArrivalRequest =
  | { type: 'prepare'; url: string; count: number; token: `0x${string}`; other: `0x${string}`; topic: string }
  | { type: 'go'; timeoutMs: number }
  | { type: 'watchReopen'; timeoutMs: number }
  | { type: 'close' }

export type ArrivalEvent =
  | { type: 'prepared' }
  | { type: 'arrived'; report: ArrivalReport }
  /** When (wall clock) each stream opened again, of those that did. */
  | { type: 'reopened'; times: number[] }

export type ArrivalReport = {
  /** Per wallet, ms since `go` (wall clock): signed in, interests registered, stream open; -1 if it failed. */
  signedIn: number[]
  interests: number[]
  streaming: number[]
  /** Failures by their code (a stream's reported errors included). */
  failures: Record<string, number>
}

const send = (message: ArrivalEvent) => process.send?.(message)
let clients: WalletBackendClient[] = []
const streams: Stream[] = []
let prepared: Extract<ArrivalRequest, { type: 'prepare' }> | undefined
const failures: Record<string, number> = {}
const fail = (code: string) => {
  failures[code] = (failures[code] ?? 0) + 1
}
// Streams that opened again since `watchReopen`, and when (wall clock).
let reopened: Map<number, number> | undefined

/** Whatever `work` got done in `timeoutMs`: a run that cannot finish still reports how far it got. */
const within = (timeoutMs: number, work: Promise<unknown>) =>
  Promise.race([work, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])

async function arrive(timeoutMs: number): Promise<ArrivalReport> {
  const { token, other, topic } = prepared!
  const started = Date.now()
  const report: ArrivalReport = {
    signedIn: clients.map(() => -1),
    interests: clients.map(() => -1),
    streaming: clients.map(() => -1),
    failures,
  }
  const arrivals = Promise.all(
    clients.map(async (client, i) => {
      try {
        await client.signIn()
        report.signedIn[i] = Date.now() - started
        await client.putInterest(token, { filters: [{ code: 'logs', args: [topic] }] })
        await client.putInterest(other, { filters: [{ code: 'all', args: [] }] })
        report.interests[i] = Date.now() - started
      } catch (error) {
        fail((error as { code?: string }).code ?? (error as Error).message.slice(0, 60))
        return
      }
      await new Promise<void>((opened) => {
        streams[i] = client.stream({
          onItem: () => {},
          onOpen: () => {
            if (report.streaming[i] === -1) {
              report.streaming[i] = Date.now() - started
              opened()
            }
            if (reopened && !reopened.has(i)) {
              reopened.set(i, Date.now())
              if (reopened.size === clients.length) send({ type: 'reopened', times: [...reopened.values()] })
            }
          },
          onError: (error) => {
            // While the backend restarts every stream fails: only failures of the arrival count.
            if (!reopened) fail(error instanceof StreamError ? error.code : error.name)
          },
        })
      })
    }),
  )
  await within(timeoutMs, arrivals)
  return structuredClone(report)
}

process.on('message', async (message: ArrivalRequest) => {
  if (message.type === 'prepare') {
    prepared = message
    clients = Array.from(
      { length: message.count },
      () =>
        new WalletBackendClient({
          url: message.url,
          account: privateKeyToAccount(generatePrivateKey()),
          WebSocket: WebSocket as never,
        }),
    )
    send({ type: 'prepared' })
  } else if (message.type === 'go') {
    send({ type: 'arrived', report: await arrive(message.timeoutMs) })
  } else if (message.type === 'watchReopen') {
    const watching = new Map<number, number>()
    reopened = watching
    setTimeout(() => {
      if (watching.size < clients.length) send({ type: 'reopened', times: [...watching.values()] })
    }, message.timeoutMs).unref()
  } else if (message.type === 'close') {
    for (const stream of streams) stream?.close()
    process.exit(0)
  }
})
// The parent gone (ended or crashed): nothing is left to report to.
process.on('disconnect', () => process.exit(0))
