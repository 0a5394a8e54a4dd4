import { createServer, type Server } from 'node:http'
import { freePort } from '../../src/chain/node/spawnAnvil.js'

type Message = { id: number; method: string; params: unknown[] }
type Answer = { id: number; result?: unknown; error?: unknown }

/**
 * A JSON-RPC proxy in front of a real node that can corrupt or refuse chosen answers — faults a
 * real node will not produce on demand. Everything it does not touch is the real node's answer.
 */
export type FaultyNode = {
  url: string
  /** Rewrites the answer to a call; return undefined to leave it as it is. */
  tamper: ((message: Message, answer: Answer) => Answer | undefined) | undefined
  calls: Map<string, number>
  close(): Promise<void>
}

export async function startFaultyNode(upstream: string): Promise<FaultyNode> {
  const port = await freePort()
  const handle: FaultyNode = {
    url: `http://127.0.0.1:${port}`,
    tamper: undefined,
    calls: new Map(),
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  const server: Server = createServer(async (request, response) => {
    let body = ''
    for await (const chunk of request) body += chunk
    const parsed = JSON.parse(body) as Message | Message[]
    const messages = Array.isArray(parsed) ? parsed : [parsed]
    for (const message of messages)
      handle.calls.set(message.method, (handle.calls.get(message.method) ?? 0) + 1)
    const upstreamResponse = await fetch(upstream, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    })
    const answered = (await upstreamResponse.json()) as Answer | Answer[]
    const answers = Array.isArray(answered) ? answered : [answered]
    const rewritten = answers.map((answer) => {
      const message = messages.find((m) => m.id === answer.id)
      return (message && handle.tamper?.(message, answer)) ?? answer
    })
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify(Array.isArray(answered) ? rewritten : rewritten[0]))
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return handle
}
