import { createServer } from 'node:net'

/**
 * A TCP port that was free a moment ago: the system picks one for port 0, and it is released at
 * once. Another process may take it before the caller binds it; callers that can, retry.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      server.close(() => {
        if (typeof address === 'object' && address) resolve(address.port)
        else reject(new Error(`no port was assigned on ${host}`))
      })
    })
  })
}
