// Streaming wallets of the latency benchmark, in a process of their own (forked through
// `walletProcesses.ts`) so that parsing their frames is charged neither to the backend's process
// nor to the process that sends the transfers. Driven by messages: `open` signs more wallets in,
// registers their interest in the token's `Transfer` logs and opens their streams; `collect`
// hands over the receive times recorded since the last `collect`; `close` ends them. Receive
// times are wall clock (`performance.timeOrigin + performance.now()`), comparable with the send
// times of the parent on the same machine.
import { type Stream, StreamError, WalletBackendClient } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import WebSocket from 'ws'

export type OpenRequest = {
  type: 'open'
  url: string
  token: `0x${string}`
  topic: string
  count: number
  timeoutMs: number
}
export type WalletRequest =
  | OpenRequest
  /** From now on every stream acknowledges each item, as a wallet does, or none does. */
  | { type: 'acking'; on: boolean }
  /** Closes `count` of the open streams (their wallets stay signed in and interested). */
  | { type: 'shrink'; count: number }
  | { type: 'collect' }
  | { type: 'close' }

export type WalletEvent =
  | { type: 'opened'; streams: number; failures: Record<string, number> }
  | { type: 'shrunk'; streams: number }
  /** Every stream of this process has the item of transfer `amount`. */
  | { type: 'complete'; amount: number }
  /** Per item received since the last `collect`: the transfer's amount and the wall-clock receive time. */
  | { type: 'collected'; amounts: number[]; times: number[] }

const send = (event: WalletEvent) => process.send?.(event)
const now = () => performance.timeOrigin + performance.now()

const streams: Stream[] = []
// Streams that opened (at least once) and are not closed: every item is expected on each of them.
const opened: Stream[] = []
let open = 0
const perAmount = new Map<number, number>()
let acking = false
let amounts: number[] = []
let times: number[] = []

/** Whatever `work` got done in `timeoutMs`: a run that cannot finish still reports how far it got. */
const within = (timeoutMs: number, work: Promise<unknown>) =>
  Promise.race([work, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())])

function received(amount: number): void {
  const n = (perAmount.get(amount) ?? 0) + 1
  perAmount.set(amount, n)
  if (n === open) {
    perAmount.delete(amount)
    send({ type: 'complete', amount })
  }
}

/** Signs `count` new wallets in (a few at a time), registers their interest and opens their streams. */
async function openWallets(request: OpenRequest): Promise<WalletEvent> {
  const failures: Record<string, number> = {}
  const fail = (code: string) => {
    failures[code] = (failures[code] ?? 0) + 1
  }
  let count = 0
  const next = { index: 0 }
  // Enough sign-ins in flight to keep the backend busy without one process's crowd of them
  // timing out behind each other.
  const concurrency = 25
  const wallet = async () => {
    const client = new WalletBackendClient({
      url: request.url,
      account: privateKeyToAccount(generatePrivateKey()),
      WebSocket: WebSocket as never,
    })
    try {
      await client.signIn()
      await client.putInterest(request.token, { filters: [{ code: 'logs', args: [request.topic] }] })
    } catch (error) {
      fail((error as { code?: string }).code ?? (error as Error).message.slice(0, 60))
      return
    }
    await new Promise<void>((resolve) => {
      let first = true
      const stream = client.stream({
        onItem: (item) => {
          const at = now()
          if (item.kind !== 'log' || !item.log) return
          const amount = Number(BigInt(item.log.data))
          amounts.push(amount)
          times.push(at)
          received(amount)
          if (acking) stream.ack(item.cursor)
        },
        onOpen: () => {
          if (!first) return
          first = false
          count++
          open++
          opened.push(stream)
          resolve()
        },
        onError: (error) => fail(error instanceof StreamError ? error.code : error.name),
      })
      streams.push(stream)
    })
  }
  const deadline = Date.now() + request.timeoutMs
  const workers = Array.from({ length: Math.min(concurrency, request.count) }, async () => {
    // Past the deadline no more wallets start, so the next phase counts on a settled set of streams.
    while (next.index < request.count && Date.now() < deadline) {
      next.index++
      await wallet()
    }
  })
  await within(request.timeoutMs, Promise.all(workers))
  return { type: 'opened', streams: count, failures }
}

process.on('message', async (request: WalletRequest) => {
  if (request.type === 'open') send(await openWallets(request))
  else if (request.type === 'acking') acking = request.on
  else if (request.type === 'shrink') {
    for (const stream of opened.splice(Math.max(0, opened.length - request.count))) {
      stream.close()
      open--
    }
    send({ type: 'shrunk', streams: open })
  } else if (request.type === 'collect') {
    send({ type: 'collected', amounts, times })
    amounts = []
    times = []
  } else if (request.type === 'close') {
    for (const stream of streams) stream.close()
    process.exit(0)
  }
})
// The parent gone (ended or crashed): nothing is left to report to.
process.on('disconnect', () => process.exit(0))
