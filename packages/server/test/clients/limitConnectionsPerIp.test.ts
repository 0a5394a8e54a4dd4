import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { limitConnectionsPerIp } from '../../src/clients/abuse/limitConnectionsPerIp.js'

const server = createServer((_request, response) => response.end('ok'))
let refused: string[] = []
let open: Map<string, number>
let port: number

beforeAll(async () => {
  open = limitConnectionsPerIp(
    server,
    () => 3,
    (ip) => refused.push(ip),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})
afterAll(() => new Promise((resolve) => server.close(resolve)))

/** A raw TCP connection; resolves with how it ended: still open after an HTTP answer, or closed. */
function dial(from = '127.0.0.1'): Promise<{ socket: Socket; answered: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from })
    let answered = false
    socket.on('data', () => {
      answered = true
      resolve({ socket, answered })
    })
    socket.on('close', () => resolve({ socket, answered }))
    socket.on('error', () => {})
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  })
}

describe('limitConnectionsPerIp', () => {
  it('closes the connection beyond the bound at once, counts per address, and frees a slot on close', async () => {
    refused = []
    const held = await Promise.all([dial(), dial(), dial()])
    expect(held.map((h) => h.answered)).toEqual([true, true, true])
    expect(open.get('127.0.0.1')).toBe(3)
    const extra = await dial()
    expect(extra.answered).toBe(false)
    expect(refused).toEqual(['127.0.0.1'])
    // Another address has a bound of its own.
    const other = await dial('127.0.0.2')
    expect(other.answered).toBe(true)
    held[0]!.socket.destroy()
    await new Promise((resolve) => held[0]!.socket.once('close', resolve))
    while ((open.get('127.0.0.1') ?? 0) > 2) await new Promise((resolve) => setTimeout(resolve, 10))
    const again = await dial()
    expect(again.answered).toBe(true)
    for (const h of [...held, other, again]) h.socket.destroy()
  })
})
