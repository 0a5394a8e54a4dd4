import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WalletBackendClient, WalletStateSync } from '@wallet-backend/sdk'
import { canonicalize, deriveKeyFromSecret, type WalletEvent } from '@wallet-backend/wallet-state'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { latestStampModel, observedState } from '../../../wallet-state/test/latestStampModel.js'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { type BackendProcess, backendProcess } from '../support/backendProcess.js'
import { waitUntil } from '../support/waitUntil.js'

let anvil: TestAnvil
let dataDir: string
let backend: BackendProcess

beforeAll(async () => {
  anvil = await startAnvil()
  dataDir = mkdtempSync(join(tmpdir(), 'wb-state-crash-'))
  backend = backendProcess({
    dataDir,
    port: await freePort(),
    nodeUrl: anvil.node.wsUrl,
    flags: ['--registration-pow-bits', '0', '--log-level', 'warn'],
    readyTimeoutMs: 120_000,
  })
  await backend.start()
}, 120_000)
afterAll(async () => {
  await backend.kill()
  await anvil.stop()
  rmSync(dataDir, { recursive: true, force: true })
})

const T = 1_700_000_000
const EDITS = 200
const DEVICES = 5

/** An edit of one of a few shared items: credentials put and deleted, keypairs, the settings. */
function editOf(device: number, i: number): [string, Record<string, unknown>] {
  const item = (device * 7 + i * 3) % 12
  switch (i % 5) {
    case 0:
      return ['delete_credential', { credentialId: `c${item}` }]
    case 1:
      return ['alter_settings', { settings: { by: device, i } }]
    case 2:
      return ['new_keypair', { kid: `k${item % 4}`, by: device, i }]
    default:
      return ['new_credential', { credentialId: `c${item}`, by: device, i, credential: 'e'.repeat(600) }]
  }
}

describe('wallet-state sync against a backend killed with SIGKILL', () => {
  it('five devices × 200 overlapping edits, a kill -9 and a restart in the middle: all equal, equal to the model, no error', async () => {
    const privateKey = generatePrivateKey()
    const key = await deriveKeyFromSecret(new Uint8Array(32).fill(5))
    const devices = Array.from(
      { length: DEVICES },
      () =>
        new WalletStateSync(
          new WalletBackendClient({ url: backend.url, account: privateKeyToAccount(privateKey) }),
          key,
          { unreachableRetryMs: 120_000 },
        ),
    )
    const made: WalletEvent[] = []
    const errors: unknown[] = []
    let syncs = 0
    const work = devices.map(async (device, d) => {
      await device.load()
      for (let i = 0; i < EDITS; i++) {
        const [type, payload] = editOf(d, i)
        // Clocks out of step and often equal: the second of the edit, skewed per device.
        device.edit(type, payload, { timestampSeconds: T + Math.floor(i / 4) + (d % 3) - 1 })
        made.push(device.container.events.at(-1)!)
        if (i % 8 === 7) {
          await device.sync().catch((error) => errors.push(error))
          syncs += 1
        }
      }
      await device.sync().catch((error) => errors.push(error))
    })
    // The crash: once a good part of the syncs went through, kill -9 and start on the same data.
    await waitUntil(() => syncs >= (DEVICES * EDITS) / 8 / 3, 120_000, 'a third of the syncs')
    await backend.kill()
    await backend.start()
    await Promise.all(work)
    expect(errors).toEqual([])
    for (const device of devices) await device.sync()
    for (const device of devices) await device.load()
    const bytes = canonicalize(devices[0]!.container)
    for (const device of devices) expect(canonicalize(device.container)).toBe(bytes)
    expect(observedState(devices[0]!.container)).toEqual(latestStampModel(made))
    expect(made).toHaveLength(DEVICES * EDITS)
  }, 300_000)
})
