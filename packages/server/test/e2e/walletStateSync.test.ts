import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WalletBackendClient, WalletStateSync } from '@wallet-backend/sdk'
import { currentState, deriveKeyFromSecret } from '@wallet-backend/wallet-state'
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
    // Both start a wallet state at the same time: the second one replays its edit onto the first.
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

  it('five devices writing at once all get their edit in, by bounded retries', async () => {
    const all = await devices(5)
    await Promise.all(all.map((device) => device.load()))
    for (const [i, device] of all.entries()) device.edit('new_credential', { credentialId: `device-${i}` })
    const results = await Promise.all(all.map((device) => device.sync()))
    expect(results.every((r) => r.attempts <= 5)).toBe(true)
    const last = all[0]!
    await last.load()
    expect(credentials(last)).toEqual(['device-0', 'device-1', 'device-2', 'device-3', 'device-4'])
  })
})
