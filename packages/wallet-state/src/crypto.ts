import { scryptAsync } from '@noble/hashes/scrypt.js'
import { canonicalize } from './canonicalize.js'
import { DecryptionError, WalletStateError } from './errors.js'
import type { WalletStateContainer } from './types.js'

/** A 256-bit key for the wallet state, with an id that tells which derivation made it. */
export type WalletStateKey = { key: CryptoKey; kid: string; header: Record<string, unknown> }

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const INFO = 'wallet-backend wallet-state v1'

function b64url(bytes: Uint8Array): string {
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function fromB64url(text: string): Uint8Array {
  // Unpadded base64url never leaves a single character over.
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new DecryptionError('not a compact JWE')
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

async function importKey(raw: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey('raw', raw as BufferSource, { name: 'AES-GCM' }, false, [
    'encrypt',
    'decrypt',
  ])
}

/**
 * A key from the wallet's own secret (its seed, or key material every device of the user has):
 * HKDF-SHA256 with a fixed context, so each device derives the same key without a round trip.
 */
export async function deriveKeyFromSecret(
  secret: Uint8Array,
  salt = new Uint8Array(32),
): Promise<WalletStateKey> {
  if (secret.length < 16) throw new WalletStateError('WEAK_SECRET', 'the secret must have at least 16 bytes')
  const base = await globalThis.crypto.subtle.importKey('raw', secret as BufferSource, 'HKDF', false, [
    'deriveBits',
  ])
  const bits = await globalThis.crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: salt as BufferSource, info: encoder.encode(INFO) },
    base,
    256,
  )
  return {
    key: await importKey(new Uint8Array(bits)),
    kid: 'hkdf-sha256',
    header: { kdf: 'hkdf-sha256', salt: b64url(salt) },
  }
}

/** 256 MiB: eight times the default's memory, still well under what a phone gives a page. */
const MAX_SCRYPT_BYTES = 2 ** 28

export type PassphraseParams = { salt?: Uint8Array; N?: number; r?: number; p?: number }

/**
 * A key from a passphrase, through scrypt (memory-hard: guessing costs memory as well as time).
 * The salt and parameters travel in the envelope's header, so another device can derive it again.
 */
export async function deriveKeyFromPassphrase(
  passphrase: string,
  params: PassphraseParams = {},
): Promise<WalletStateKey> {
  const salt = params.salt ?? globalThis.crypto.getRandomValues(new Uint8Array(16))
  const N = params.N ?? 2 ** 15
  const r = params.r ?? 8
  const p = params.p ?? 1
  // The parameters may come from an envelope's header: bound them, so a doctored envelope cannot
  // make a device spend gigabytes or minutes. 128·N·r·p bytes is scrypt's memory.
  const powerOfTwo = Number.isSafeInteger(N) && N >= 2 ** 10 && (N & (N - 1)) === 0
  if (
    !powerOfTwo ||
    !Number.isSafeInteger(r) ||
    !Number.isSafeInteger(p) ||
    r < 1 ||
    p < 1 ||
    128 * N * r * p > MAX_SCRYPT_BYTES
  ) {
    throw new WalletStateError(
      'INVALID_KDF_PARAMS',
      `scrypt parameters out of bounds (N ${N}, r ${r}, p ${p})`,
    )
  }
  if (salt.length < 16)
    throw new WalletStateError('INVALID_KDF_PARAMS', 'the scrypt salt must have at least 16 bytes')
  const raw = await scryptAsync(encoder.encode(passphrase.normalize('NFKC')), salt, { N, r, p, dkLen: 32 })
  return { key: await importKey(raw), kid: 'scrypt', header: { kdf: 'scrypt', salt: b64url(salt), N, r, p } }
}

/** Reads the key-derivation parameters from an envelope, to derive the key for it. */
export function envelopeHeader(envelope: string): Record<string, unknown> {
  const [header] = envelope.split('.')
  try {
    return JSON.parse(decoder.decode(fromB64url(header ?? ''))) as Record<string, unknown>
  } catch {
    throw new DecryptionError('not a compact JWE')
  }
}

/** Derives the key of a passphrase-protected envelope with the parameters it names. */
export async function deriveKeyForEnvelope(envelope: string, passphrase: string): Promise<WalletStateKey> {
  const header = envelopeHeader(envelope)
  if (header.kdf !== 'scrypt' || typeof header.salt !== 'string') {
    throw new DecryptionError('the envelope is not passphrase-protected')
  }
  try {
    return await deriveKeyFromPassphrase(passphrase, {
      salt: fromB64url(header.salt),
      N: Number(header.N),
      r: Number(header.r),
      p: Number(header.p),
    })
  } catch (error) {
    if (error instanceof WalletStateError && error.code === 'INVALID_KDF_PARAMS') {
      throw new DecryptionError(`the envelope's ${error.message}`)
    }
    throw error
  }
}

/**
 * The container, serialized canonically and encrypted with AES-256-GCM, as a compact JWE
 * (`alg: "dir"`, `enc: "A256GCM"`): header.encryptedKey(empty).iv.ciphertext.tag. The header is
 * authenticated as additional data. The server stores this string and nothing else.
 */
export async function encryptContainer(
  container: WalletStateContainer,
  key: WalletStateKey,
): Promise<string> {
  const header = b64url(
    encoder.encode(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: key.kid, ...key.header })),
  )
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(12))
  const sealed = new Uint8Array(
    await globalThis.crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: encoder.encode(header), tagLength: 128 },
      key.key,
      encoder.encode(canonicalize(container)),
    ),
  )
  return [header, '', b64url(iv), b64url(sealed.slice(0, -16)), b64url(sealed.slice(-16))].join('.')
}

/**
 * The container inside an envelope made by encryptContainer. Anything else — a wrong key or
 * passphrase, an altered byte of header, IV, ciphertext or tag, or a string that is not such a JWE —
 * is a DecryptionError.
 */
export async function decryptContainer(envelope: string, key: WalletStateKey): Promise<WalletStateContainer> {
  const parts = envelope.split('.')
  if (parts.length !== 5 || parts[1] !== '') throw new DecryptionError('not a compact JWE with alg "dir"')
  const [header, , iv, ciphertext, tag] = parts as [string, string, string, string, string]
  const protectedHeader = envelopeHeader(envelope)
  if (protectedHeader.alg !== 'dir' || protectedHeader.enc !== 'A256GCM') {
    throw new DecryptionError('not an A256GCM envelope with alg "dir"')
  }
  const ivBytes = fromB64url(iv)
  const tagBytes = fromB64url(tag)
  if (ivBytes.length !== 12 || tagBytes.length !== 16) throw new DecryptionError('not an A256GCM envelope')
  const sealed = new Uint8Array([...fromB64url(ciphertext), ...tagBytes])
  let plain: ArrayBuffer
  try {
    plain = await globalThis.crypto.subtle.decrypt(
      {
        name: 'AES-GCM',
        iv: ivBytes as BufferSource,
        additionalData: encoder.encode(header),
        tagLength: 128,
      },
      key.key,
      sealed,
    )
  } catch {
    throw new DecryptionError()
  }
  return JSON.parse(decoder.decode(plain)) as WalletStateContainer
}
