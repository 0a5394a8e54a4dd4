import type { Server } from 'node:net'

/**
 * Bounds the TCP connections one IP address holds open on `server`: one more is destroyed as it
 * arrives, before a byte of it is read, so a single host cannot exhaust the server's sockets.
 * Returns the count of connections open per address (for tests and health).
 */
export function limitConnectionsPerIp(
  server: Server,
  max: () => number,
  onRefused: (ip: string) => void = () => {},
): Map<string, number> {
  const open = new Map<string, number>()
  server.on('connection', (socket) => {
    const ip = socket.remoteAddress ?? 'unknown'
    const count = open.get(ip) ?? 0
    if (count >= max()) {
      onRefused(ip)
      socket.destroy()
      return
    }
    open.set(ip, count + 1)
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1
      if (left > 0) open.set(ip, left)
      else open.delete(ip)
    })
  })
  return open
}
