import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminRequest } from '../../server/test/support/adminRequest.js'
import { waitUntil } from '../../server/test/support/waitUntil.js'
import { type DeliveryItem, type StreamError, WalletBackendClient } from '../src/index.js'
import { freshAddress, type LiveBackend, startLiveBackend } from './support/liveBackend.js'

let live: LiveBackend

beforeAll(async () => {
  // One session per client: a second sign-in with the same key ends the first one early.
  live = await startLiveBackend(['--max-sessions-per-client', '1'])
}, 180_000)

afterAll(async () => {
  await live?.stop()
})

const clientOf = (key: Hex) =>
  new WalletBackendClient({ url: live.backend.url, account: privateKeyToAccount(key) })

/** A stream of `client` on an interest in a fresh address, open before this resolves. */
async function streaming(client: WalletBackendClient) {
  await client.putInterest(freshAddress(), { filters: [{ code: 'all', args: [] }] })
  const items: DeliveryItem[] = []
  const errors: StreamError[] = []
  let opened = 0
  const stream = client.stream({
    onItem: (item) => {
      items.push(item)
    },
    onError: (error) => errors.push(error as StreamError),
    onOpen: () => {
      opened += 1
    },
    minReconnectMs: 50,
    maxReconnectMs: 500,
  })
  await waitUntil(() => opened > 0, 30_000, 'the stream to open')
  return { items, errors, stream }
}

describe('sessions the backend ends early', () => {
  it('a call after its session was ended by a newer sign-in signs in again and succeeds', async () => {
    const key = generatePrivateKey()
    const phone = clientOf(key)
    await phone.signIn()
    // The same key on another device: the one session allowed is now that device's.
    await clientOf(key).signIn()
    await expect(phone.listInterests()).resolves.toEqual([])
    expect(await phone.getWalletState()).toBeUndefined()
  })

  it('a pruned client’s stream signs in again and gets its gap; a deleted one’s stops and says why', async () => {
    const pruned = clientOf(generatePrivateKey())
    const deleted = clientOf(generatePrivateKey())
    const a = await streaming(pruned)
    const b = await streaming(deleted)
    const admin = (method: string, path: string) => adminRequest(live.backend.url, live.dataDir, method, path)
    expect((await admin('POST', `/clients/${pruned.clientId}/prune`)).status).toBe(200)
    expect((await admin('DELETE', `/clients/${deleted.clientId}`)).status).toBe(204)
    // Open streams outlive the sessions; a restart makes both reconnect on sessions now unknown.
    await live.backend.kill()
    await live.backend.start()
    await waitUntil(() => a.items.some((item) => item.kind === 'gap'), 60_000, 'the pruned client’s gap')
    expect(a.errors.map((error) => error.code)).toContain('SESSION_INVALID')
    expect(a.stream.stopped).toBe(false)
    await waitUntil(() => b.stream.stopped, 60_000, 'the deleted client’s stream to stop')
    expect(b.errors.at(-1)?.code).toBe('CLIENT_DELETED')
    a.stream.close()
  }, 240_000)

  it('a stream whose sign-in is refused for a bad signature stops instead of retrying without end', async () => {
    const account = privateKeyToAccount(generatePrivateKey())
    const other = privateKeyToAccount(generatePrivateKey())
    // Signs with another key: the backend refuses the signature, and will every time.
    const broken = { ...account, signMessage: other.signMessage }
    const client = new WalletBackendClient({ url: live.backend.url, account: broken })
    const errors: StreamError[] = []
    const stream = client.stream({
      onItem: () => {},
      onError: (error) => errors.push(error as StreamError),
      minReconnectMs: 10,
    })
    await waitUntil(() => stream.stopped, 30_000, 'the stream to stop')
    expect(errors).toHaveLength(1)
    expect(errors[0]!.code).toBe('SIGN_IN_FAILED')
    expect(errors[0]!.status).toBe(401)
  })
})
