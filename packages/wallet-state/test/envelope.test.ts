import { describe, expect, it } from 'vitest'
import {
  appendEvent,
  createContainer,
  DecryptionError,
  decryptContainer,
  deriveKeyForEnvelope,
  deriveKeyFromPassphrase,
  deriveKeyFromSecret,
  encryptContainer,
  envelopeHeader,
  WalletStateError,
} from '../src/index.js'

const container = appendEvent(createContainer({ walletId: 'envelope' }), 'new_keypair', { kid: 'k' })
const b64url = (text: string) => Buffer.from(text).toString('base64url')

describe('the encryption envelope', () => {
  it('is a compact JWE whose protected header names the algorithm and the key derivation', async () => {
    const key = await deriveKeyFromSecret(new Uint8Array(32).fill(1))
    const envelope = await encryptContainer(container, key)
    expect(envelopeHeader(envelope)).toEqual({
      alg: 'dir',
      enc: 'A256GCM',
      kid: 'hkdf-sha256',
      kdf: 'hkdf-sha256',
      salt: b64url('\0'.repeat(32)),
    })
    // A fresh IV each time: the same container never gives the same ciphertext.
    expect(await encryptContainer(container, key)).not.toBe(envelope)
  })

  it('authenticates the header: a changed header is refused even with the right key', async () => {
    const key = await deriveKeyFromSecret(new Uint8Array(32).fill(1))
    const parts = (await encryptContainer(container, key)).split('.')
    const header = b64url(JSON.stringify({ ...envelopeHeader(parts.join('.')), kid: 'other' }))
    await expect(decryptContainer([header, ...parts.slice(1)].join('.'), key)).rejects.toBeInstanceOf(
      DecryptionError,
    )
    const foreign = b64url(JSON.stringify({ alg: 'A256KW', enc: 'A256GCM' }))
    await expect(decryptContainer([foreign, ...parts.slice(1)].join('.'), key)).rejects.toThrow(/alg "dir"/)
  })

  it('refuses strings that are not such an envelope with the typed error, never another exception', async () => {
    const key = await deriveKeyFromSecret(new Uint8Array(32).fill(1))
    const good = (await encryptContainer(container, key)).split('.')
    const bad = [
      '',
      'a.b.c.d.e',
      [good[0], 'x', good[2], good[3], good[4]].join('.'),
      [good[0], '', 'A', good[3], good[4]].join('.'), // an IV of no length base64url allows
      [good[0], '', good[2], good[3], good[4]!.slice(0, 8)].join('.'), // a short tag
      [good[0], '', good[2], `${good[3]}!`, good[4]].join('.'),
    ]
    for (const envelope of bad)
      await expect(decryptContainer(envelope, key)).rejects.toBeInstanceOf(DecryptionError)
  })

  it('bounds the scrypt parameters an envelope may ask for', async () => {
    const key = await deriveKeyFromPassphrase('pass phrase', { N: 2 ** 12 })
    const parts = (await encryptContainer(container, key)).split('.')
    const greedy = b64url(JSON.stringify({ ...envelopeHeader(parts.join('.')), N: 2 ** 24 }))
    const started = performance.now()
    await expect(
      deriveKeyForEnvelope([greedy, ...parts.slice(1)].join('.'), 'pass phrase'),
    ).rejects.toBeInstanceOf(DecryptionError)
    // Refused before any hashing: scrypt at N=2^24 would take minutes, so 10 s is a bound, not a figure.
    expect(performance.now() - started).toBeLessThan(10_000)
    await expect(deriveKeyFromPassphrase('x', { N: 1000 })).rejects.toBeInstanceOf(WalletStateError)
    await expect(deriveKeyFromPassphrase('x', { salt: new Uint8Array(4) })).rejects.toThrow(/salt/)
  })

  // How long it takes is a figure for the benchmarks, not a test: a loaded machine is slower.
  it('derives the default passphrase key with scrypt N=2^15, r=8, p=1', async () => {
    const key = await deriveKeyFromPassphrase('correct horse battery staple')
    expect(key.header).toMatchObject({ kdf: 'scrypt', N: 2 ** 15, r: 8, p: 1 })
  })
})
