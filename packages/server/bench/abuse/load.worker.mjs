// An attacker's load, in a worker of its own so that generating it does not slow down the calm
// client measured on the main thread. It runs until told to stop or until its deadline, and
// reports what it sent and how it was answered.
import { Agent, request } from 'node:http'
import { parentPort, workerData } from 'node:worker_threads'
import WebSocket from 'ws'

const { load, deadlineMs } = workerData
let running = true
const started = performance.now()
const statuses = {}
let sent = 0
const count = (status) => {
  sent += 1
  statuses[status] = (statuses[status] ?? 0) + 1
}
const finish = () => {
  running = false
  parentPort.postMessage({ type: 'done', sent, statuses, seconds: (performance.now() - started) / 1000 })
}
parentPort.on('message', (message) => {
  if (message === 'stop') finish()
})
setTimeout(finish, deadlineMs).unref()

/** One HTTP request; resolves with its status and the body as text once it is read. */
function send(url, { method = 'GET', headers = {}, body, agent }) {
  return new Promise((resolve) => {
    const req = request(url, { method, headers, agent }, (response) => {
      const chunks = []
      response.on('data', (chunk) => chunks.push(chunk))
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          text: Buffer.concat(chunks).toString(),
        }),
      )
      response.on('error', () => resolve({ status: 0, headers: {}, text: '' }))
    })
    req.on('error', () => resolve({ status: 0, headers: {}, text: '' }))
    req.end(body)
  })
}

const loads = {
  /** `inFlight` requests of `path` without pause, from `localAddress`. */
  async requests({ url, path, token, inFlight, localAddress }) {
    const agent = new Agent({
      keepAlive: true,
      maxSockets: inFlight,
      ...(localAddress ? { localAddress } : {}),
    })
    const target = new URL(path, url)
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (running)
          count((await send(target, { agent, headers: { authorization: `Bearer ${token}` } })).status)
      }),
    )
  },
  /** Each client writes `bytes` of wallet state in a loop, compare-and-set on its last ETag. */
  async walletState({ url, tokens, bytes, localAddress }) {
    const agent = new Agent({
      keepAlive: true,
      maxSockets: tokens.length,
      ...(localAddress ? { localAddress } : {}),
    })
    const target = new URL('/v1/wallet-state', url)
    await Promise.all(
      tokens.map(async (token) => {
        let etag
        let round = 0
        while (running) {
          const body = Buffer.alloc(bytes, round++ % 251)
          const answer = await send(target, {
            method: 'PUT',
            agent,
            body,
            headers: {
              authorization: `Bearer ${token}`,
              'content-type': 'application/jose',
              ...(etag ? { 'if-match': etag } : { 'if-none-match': '*' }),
            },
          })
          count(answer.status)
          if (answer.status === 200 || answer.status === 201) etag = `"${JSON.parse(answer.text).etag}"`
          else if (typeof answer.headers.etag === 'string') etag = answer.headers.etag
          else if (answer.status === 429) await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }),
    )
  },
  /** `streams` WebSocket streams, each keeping `inFlight` acks unanswered. */
  async wsAcks({ url, token, streams, inFlight, localAddress }) {
    const wsUrl = `${url.replace(/^http/, 'ws')}/v1/stream?token=${encodeURIComponent(token)}`
    await Promise.all(
      Array.from(
        { length: streams },
        () =>
          new Promise((resolve) => {
            const socket = new WebSocket(wsUrl, localAddress ? { localAddress } : {})
            const ack = () => {
              if (running && socket.readyState === WebSocket.OPEN) socket.send('{"type":"ack","cursor":0}')
            }
            socket.on('open', () => {
              for (let i = 0; i < inFlight; i++) ack()
            })
            socket.on('message', (data) => {
              const message = JSON.parse(String(data))
              if (message.type === 'acked' || message.type === 'error') {
                count(message.type === 'acked' ? 'acked' : message.code)
                if (running) ack()
                else socket.close()
              }
            })
            socket.on('error', () => count('socket-error'))
            socket.on('close', (code) => {
              count(`closed-${code}`)
              resolve()
            })
          }),
      ),
    )
  },
  /** `perSecond` transactions a second from `from` to `to`, sent to the node. */
  async traffic({ rpcUrl, from, to, perSecond }) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const target = new URL(rpcUrl)
    const start = performance.now()
    while (running) {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'eth_sendTransaction',
        params: [{ from, to, value: '0x1', data: '0xdeadbeef' }],
      })
      const answer = await send(target, {
        method: 'POST',
        agent,
        body,
        headers: { 'content-type': 'application/json' },
      })
      count(answer.text.includes('"result"') ? 'sent' : 'failed')
      const wait = start + (sent * 1000) / perSecond - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    }
  },
}

await loads[load.kind](load)
