import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  canonicalize,
  createContainer,
  currentState,
  DecryptionError,
  decryptContainer,
  deriveKeyForEnvelope,
  deriveKeyFromPassphrase,
  deriveKeyFromSecret,
  encryptContainer,
  eventHashes,
  foldContainer,
  hashCanonical,
  mergeContainers,
  UnsupportedSchemaVersionError,
  validateContainer,
  type WalletStateContainer,
} from '../src/index.js'

type Fixture = { container: WalletStateContainer; expected: { lastEventHash: string; stateHash: string } }
const fixture = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`./fixtures/container-${name}.json`, import.meta.url), 'utf8')) as Fixture

describe('committed fixtures: data written by earlier versions stays readable and hashes the same', () => {
  for (const name of ['v1', 'v2']) {
    it(`container ${name}`, () => {
      const { container, expected } = fixture(name)
      validateContainer(container)
      const hashes = eventHashes(container)
      expect(hashes.at(-1)).toBe(expected.lastEventHash)
      expect(container.lastEventHash).toBe(expected.lastEventHash)
      expect(hashCanonical(currentState(container))).toBe(expected.stateHash)
    })
  }

  it('the v1 fixture holds only version-1 events and an old app reads it; the v2 one it refuses with a typed error', () => {
    const v1 = fixture('v1').container
    expect(v1.events.every((event) => event.schemaVersion === 1)).toBe(true)
    expect(() => currentState(v1, 1)).not.toThrow()
    expect(() => validateContainer(fixture('v2').container, 1)).toThrow(UnsupportedSchemaVersionError)
  })

  it('a fold-format-1 container merges with an upgraded copy of itself, in either order, to the same bytes', () => {
    const old = fixture('v2').container
    // One device still on the old container adds to it; another folded (and so upgraded) its copy.
    const stillOld = appendEvent(old, 'new_keypair', { kid: 'late' }, { timestampSeconds: 1_800_000_000 })
    expect(stillOld.S.fold.format).toBeUndefined()
    const upgraded = foldContainer(old, { now: 1_800_000_000, maxEvents: 2 })
    expect(upgraded.S.fold.format).toBe(2)
    const merged = mergeContainers(stillOld, upgraded)
    expect(canonicalize(mergeContainers(upgraded, stillOld))).toBe(canonicalize(merged))
    validateContainer(merged)
    const state = currentState(merged)
    const expected = currentState(stillOld)
    expect(Object.keys(state.keypairs).sort()).toEqual(Object.keys(expected.keypairs).sort())
    expect(state.credentials).toEqual(expected.credentials)
    expect(state.settings.values).toEqual(expected.settings.values)
    expect(Object.keys(state.tombstones).sort()).toEqual(Object.keys(expected.tombstones).sort())
  })
})

describe('encryption', () => {
  const secret = new Uint8Array(32).fill(7)
  const container = appendEvent(createContainer(), 'new_credential', {
    credentialId: 'c',
    data: 'PLAINTEXT-MARKER-4711',
  })

  it('round-trips with a key from the wallet secret, and holds no plaintext', async () => {
    const key = await deriveKeyFromSecret(secret)
    const envelope = await encryptContainer(container, key)
    expect(envelope.split('.')).toHaveLength(5)
    expect(envelope).not.toContain('PLAINTEXT-MARKER')
    expect(Buffer.from(envelope).toString('latin1')).not.toContain('4711')
    const again = await deriveKeyFromSecret(secret) // another device, same secret
    expect(await decryptContainer(envelope, again)).toEqual(container)
  })

  it('round-trips with a passphrase, the parameters travelling in the header', async () => {
    const key = await deriveKeyFromPassphrase('correct horse battery staple', { N: 2 ** 12 })
    const envelope = await encryptContainer(container, key)
    const derived = await deriveKeyForEnvelope(envelope, 'correct horse battery staple')
    expect(await decryptContainer(envelope, derived)).toEqual(container)
    const wrong = await deriveKeyForEnvelope(envelope, 'incorrect horse')
    await expect(decryptContainer(envelope, wrong)).rejects.toBeInstanceOf(DecryptionError)
  })

  it('refuses a wrong key and any altered byte', async () => {
    const key = await deriveKeyFromSecret(secret)
    const envelope = await encryptContainer(container, key)
    await expect(
      decryptContainer(envelope, await deriveKeyFromSecret(new Uint8Array(32).fill(8))),
    ).rejects.toBeInstanceOf(DecryptionError)
    const parts = envelope.split('.')
    const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`
    await expect(
      decryptContainer([parts[0], '', parts[2], flipped, parts[4]].join('.'), key),
    ).rejects.toBeInstanceOf(DecryptionError)
    await expect(decryptContainer('not.a.jwe', key)).rejects.toBeInstanceOf(DecryptionError)
  })
})
