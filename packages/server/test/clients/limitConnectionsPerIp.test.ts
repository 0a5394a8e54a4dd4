import { createServer } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  beyondConnectionBound,
  CONNECTIONS_OVER_BOUND,
  limitConnectionsPerIp,
} from '../../src/clients/abuse/limitConnectionsPerIp.js'

// Says whether the connection came beyond the bound, as the application's hook asks.
const server = createServer((request, response) =>
  response.end(beyondConnectionBound(request.socket) ? 'beyond' : 'ok'),
)
let refused: string[] = []
let open: Map<string, number>
let port: number

beforeAll(async () => {
  open = limitConnectionsPerIp(server, () => 3, {
    onRefused: (ip) => refused.push(ip),
    // A trusted proxy's address: it carries many clients' connections.
    exempt: (ip) => ip === '127.0.0.9',
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as { port: number }).port
})
afterAll(() => new Promise((resolve) => server.close(resolve)))

/** A raw TCP connection; resolves with how it ended: still open after an HTTP answer (and its body's end), or closed. */
function dial(from = '127.0.0.1'): Promise<{ socket: Socket; answered: boolean; beyond: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from })
    socket.on('data', (data) =>
      resolve({ socket, answered: true, beyond: data.toString().endsWith('beyond') }),
    )
    socket.on('close', () => resolve({ socket, answered: false, beyond: false }))
    socket.on('error', () => {})
    socket.on('connect', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
  })
}

describe('limitConnectionsPerIp', () => {
  it('lets connections beyond the bound in marked, for an answer, up to a margin; closes the rest at once; counts per address and frees a slot on close', async () => {
    refused = []
    const held = await Promise.all([dial(), dial(), dial()])
    expect(held.map((h) => [h.answered, h.beyond])).toEqual([
      [true, false],
      [true, false],
      [true, false],
    ])
    expect(open.get('127.0.0.1')).toBe(3)
    const beyond: { socket: Socket; answered: boolean; beyond: boolean }[] = []
    for (let i = 0; i < CONNECTIONS_OVER_BOUND; i++) beyond.push(await dial())
    expect(beyond.every((b) => b.answered && b.beyond)).toBe(true)
    const extra = await dial()
    expect(extra.answered).toBe(false)
    expect(refused).toHaveLength(CONNECTIONS_OVER_BOUND + 1)
    expect(new Set(refused)).toEqual(new Set(['127.0.0.1']))
    // Another address has a bound of its own.
    const other = await dial('127.0.0.2')
    expect([other.answered, other.beyond]).toEqual([true, false])
    for (const b of beyond) b.socket.destroy()
    held[0]!.socket.destroy()
    while ((open.get('127.0.0.1') ?? 0) > 2) await new Promise((resolve) => setTimeout(resolve, 10))
    const again = await dial()
    expect([again.answered, again.beyond]).toEqual([true, false])
    for (const h of [...held, other, again]) h.socket.destroy()
  })

  it('holds an exempt address (a trusted proxy) to no bound', async () => {
    refused = []
    const proxied = await Promise.all(
      Array.from({ length: 3 + CONNECTIONS_OVER_BOUND + 4 }, () => dial('127.0.0.9')),
    )
    expect(proxied.every((p) => p.answered && !p.beyond)).toBe(true)
    expect(refused).toEqual([])
    for (const p of proxied) p.socket.destroy()
  })
})
