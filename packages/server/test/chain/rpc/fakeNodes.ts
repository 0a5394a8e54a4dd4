import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'

/**
 * Endpoints with the faults a real node does not produce on demand: a server that never answers,
 * HTTP errors, a batch refused as a whole, a WebSocket peer that stops answering pings. Everything
 * else in these tests runs against anvil.
 */
export type FakeNode = { url: string; requests: unknown[]; close(): Promise<void> }

export async function fakeHttpNode(
  answer: (body: unknown, response: ServerResponse, request: IncomingMessage) => void,
): Promise<FakeNode> {
  const requests: unknown[] = []
  const server = createServer(async (request, response) => {
    let text = ''
    for await (const chunk of request) text += chunk
    const body: unknown = JSON.parse(text)
    requests.push(body)
    answer(body, response, request)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** Accepts every request and never answers. */
export function hangingNode(): Promise<FakeNode> {
  return fakeHttpNode(() => {})
}

/**
 * A WebSocket node that answers `eth_chainId` and `eth_subscribe` but not pings: a connection that
 * looks open while nothing would ever arrive on it.
 */
export async function deafWebSocketNode(): Promise<FakeNode & { connections: () => number }> {
  const requests: unknown[] = []
  let connections = 0
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: false })
  server.on('connection', (socket) => {
    connections += 1
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString()) as { id: number; method: string }
      requests.push(message)
      const result = message.method === 'eth_chainId' ? '0x7a69' : `0x${(connections * 1000).toString(16)}`
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }))
    })
  })
  await new Promise<void>((resolve) => server.once('listening', resolve))
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    connections: () => connections,
    close: async () => {
      for (const client of server.clients) client.terminate()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
