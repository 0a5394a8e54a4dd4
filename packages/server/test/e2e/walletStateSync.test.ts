import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WalletBackendClient, WalletStateSync } from '@wallet-backend/sdk'
import { canonicalize, currentState, deriveKeyFromSecret } from '@wallet-backend/wallet-state'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'

let anvil: TestAnvil
let service: Service
let dataDir: string

beforeAll(async () => {
  anvil = await startAnvil()
  dataDir = mkdtempSync(join(tmpdir(), 'wb-sync-'))
  const config = loadConfig({
    flags: { port: '0', 'data-dir': dataDir, 'node-url': [anvil.node.httpUrl], 'registration-pow-bits': '4' },
  })
  service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
  await service.lifecycle.waitFor('live')
})
afterAll(async () => {
  await service.stop()
  await anvil.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

/** Two devices of one wallet: the same client key and the same wallet-state key, separate everything else. */
async function devices(count: number) {
  const privateKey = generatePrivateKey()
  const key = await deriveKeyFromSecret(new Uint8Array(32).fill(9))
  return Array.from(
    { length: count },
    () =>
      new WalletStateSync(
        new WalletBackendClient({ url: service.url, account: privateKeyToAccount(privateKey) }),
        key,
      ),
  )
}

const credentials = (sync: WalletStateSync) => Object.keys(currentState(sync.container).credentials).sort()

describe('wallet-state sync through the SDK', () => {
  it('merges concurrent and offline edits of two devices without re-authenticating', async () => {
    const [phone, laptop] = await devices(2)
    await phone!.load()
    await laptop!.load()
    // Both start a wallet state at the same time: the second joins the first's wallet with its edit.
    phone!.edit('new_credential', { credentialId: 'from-phone' })
    laptop!.edit('new_credential', { credentialId: 'from-laptop' })
    expect(await phone!.sync()).toMatchObject({ attempts: 1, merged: false })
    expect(await laptop!.sync()).toMatchObject({ attempts: 2, merged: true })
    // Offline edits on both, then both come back.
    phone!.edit('new_keypair', { kid: 'phone-key' })
    phone!.edit('delete_credential', { credentialId: 'from-phone' })
    laptop!.edit('alter_settings', { settings: { theme: 'dark' } })
    await laptop!.sync()
    const result = await phone!.sync()
    expect(result.merged).toBe(true)
    await laptop!.load()
    for (const device of [phone!, laptop!]) {
      expect(credentials(device)).toEqual(['from-laptop'])
      expect(Object.keys(currentState(device.container).keypairs)).toEqual(['phone-key'])
      expect(currentState(device.container).settings.values).toEqual({ theme: 'dark' })
    }
    expect(laptop!.container.lastEventHash).toBe(phone!.container.lastEventHash)
  })
})

const T = 1_700_000_000

describe('wallet-state sync loses no edit', () => {
  it('keeps an edit made while a sync is under way, locally and on the server', async () => {
    const [device, other] = await devices(2)
    await device!.load()
    device!.edit('new_credential', { credentialId: 'A' })
    const pending = device!.sync()
    device!.edit('new_credential', { credentialId: 'B' })
    await pending
    expect(credentials(device!)).toEqual(['A', 'B'])
    await device!.sync()
    await other!.load()
    expect(credentials(other!)).toEqual(['A', 'B'])
  })

  it('keeps edits made at every turn of the event loop while syncs and their merges run', async () => {
    const [device, other] = await devices(2)
    await other!.load()
    for (let i = 0; i < 300; i++) other!.edit('new_keypair', { kid: `other-${i}`, pad: 'p'.repeat(600) })
    await other!.sync()
    // The device's first sync meets a stored state and merges it (yielding), while edits go on.
    let settled = false
    const syncs = (async () => {
      for (let round = 0; round < 3; round++) await device!.sync()
      settled = true
    })()
    // At most MAX_EDITS, so that the state stays under the server's size limit however long the
    // syncs take (the server slows a client down as its writes cost it more).
    const MAX_EDITS = 1_000
    let made = 0
    while (!settled) {
      if (made < MAX_EDITS) device!.edit('new_credential', { credentialId: `during-${made++}` })
      await new Promise((resolve) => setTimeout(resolve, 0))
    }
    await syncs
    await device!.sync()
    await other!.load()
    const expected = Array.from({ length: made }, (_, i) => `during-${i}`).sort()
    expect(credentials(device!)).toEqual(expected)
    expect(credentials(other!)).toEqual(expected)
    expect(Object.keys(currentState(other!.container).keypairs)).toHaveLength(300)
  })

  it('five devices editing and syncing at once all settle, without an attempt cap, and lose nothing', async () => {
    const all = await devices(5)
    await Promise.all(all.map((device) => device.load()))
    await Promise.all(
      all.map(async (device, d) => {
        for (let i = 0; i < 12; i++) {
          device.edit('new_credential', { credentialId: `d${d}-${i}` })
          await device.sync()
        }
      }),
    )
    for (const device of all) await device.load()
    const expected = all.flatMap((_, d) => Array.from({ length: 12 }, (_, i) => `d${d}-${i}`)).sort()
    for (const device of all) expect(credentials(device)).toEqual(expected)
    expect(new Set(all.map((device) => canonicalize(device.container))).size).toBe(1)
  })

  it('a device whose history was never stored joins the wallet with its edits’ own stamps', async () => {
    const [online, fresh] = await devices(2)
    await online!.load()
    online!.edit('new_credential', { credentialId: 'X', v: 'online, later' }, { timestampSeconds: T + 100 })
    online!.edit('new_credential', { credentialId: 'Y', v: 'online' }, { timestampSeconds: T + 100 })
    await online!.sync()
    // The fresh device never loaded: its older edit of X must not override the newer one.
    fresh!.edit('new_credential', { credentialId: 'X', v: 'fresh, earlier' }, { timestampSeconds: T })
    fresh!.edit('new_credential', { credentialId: 'Z', v: 'fresh' }, { timestampSeconds: T })
    await fresh!.sync()
    await online!.load()
    for (const device of [online!, fresh!]) {
      const state = currentState(device.container)
      expect(state.credentials.X?.value.v).toBe('online, later')
      expect(state.credentials.Z?.value.v).toBe('fresh')
      expect(state.credentials.Z?.stamp[0]).toBe(T)
    }
  })

  it('folds by default, so a long history of large edits stays under the size limit', async () => {
    const [device, other] = await devices(2)
    await device!.load()
    // 1,500 edits of about 700 bytes (over 1 MB of events) on 40 credentials.
    for (let i = 0; i < 1_500; i++) {
      device!.edit('new_credential', { credentialId: `c${i % 40}`, n: i, credential: 'e'.repeat(620) })
    }
    await device!.sync()
    await other!.load()
    expect(credentials(other!)).toHaveLength(40)
    expect(currentState(other!.container).credentials.c19?.value.n).toBe(1_499) // 1,499 = 37 × 40 + 19
  })

  it('concurrent syncs of one device run one after the other and both succeed', async () => {
    const [device] = await devices(1)
    await device!.load()
    device!.edit('new_credential', { credentialId: 'one' })
    const first = device!.sync()
    device!.edit('new_credential', { credentialId: 'two' })
    const second = device!.sync()
    const [a, b] = await Promise.all([first, second])
    // The second waited for the first, so it never raced it: one attempt each.
    expect([a.attempts, b.attempts]).toEqual([1, 1])
    expect(credentials(device!)).toEqual(['one', 'two'])
  })
})
