import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export type CountingProxy = {
  url: string
  /** JSON-RPC calls forwarded since the last reset (each call of a batch counts), by method. */
  counts(): Map<string, number>
  total(): number
  reset(): void
  close(): Promise<void>
}

/**
 * A JSON-RPC HTTP proxy in front of a node that counts the calls going through it: the one place
 * both the backend and clients polling the node directly are measured the same way.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  let counts = new Map<string, number>()
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', async () => {
      const body = Buffer.concat(chunks)
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { method?: string } | { method?: string }[]
        for (const call of Array.isArray(parsed) ? parsed : [parsed]) {
          const method = call.method ?? '?'
          counts.set(method, (counts.get(method) ?? 0) + 1)
        }
        const answer = await fetch(target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        })
        response.writeHead(answer.status, { 'content-type': 'application/json' })
        response.end(Buffer.from(await answer.arrayBuffer()))
      } catch (error) {
        response.writeHead(502).end(String(error))
      }
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => new Map(counts),
    total: () => [...counts.values()].reduce((sum, n) => sum + n, 0),
    reset: () => {
      counts = new Map()
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
