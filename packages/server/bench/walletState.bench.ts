import {
  appendEvent,
  createContainer,
  decryptContainer,
  deriveKeyFromSecret,
  encryptContainer,
  foldContainer,
  mergeContainers,
  type WalletStateContainer,
} from '@wallet-backend/wallet-state'

const T = 1_700_000_000

function branch(from: WalletStateContainer, events: number, tag: string): WalletStateContainer {
  let c = from
  for (let i = 0; i < events; i++) {
    c = appendEvent(
      c,
      i % 3 === 0 ? 'alter_settings' : 'new_credential',
      i % 3 === 0 ? { settings: { n: i } } : { credentialId: `${tag}-${i}` },
      {
        timestampSeconds: T + i,
        eventId: `${tag}-${String(i).padStart(6, '0')}`,
      },
    )
  }
  return c
}

/** Merge of two 10k-event branches, fold of 100k events, encryption of a realistic container. */
export async function runWalletStateBench(options: { quick: boolean }): Promise<Record<string, number>> {
  const size = options.quick ? 10_000 : 10_000
  const foldSize = options.quick ? 100_000 : 100_000
  const base = createContainer({ walletId: 'bench' })
  const a = branch(base, size, 'a')
  const b = branch(base, size, 'b')
  let started = performance.now()
  const merged = mergeContainers(a, b)
  const mergeMs = performance.now() - started
  const big = { ...branch(base, foldSize, 'f') }
  started = performance.now()
  foldContainer(big, { now: T + foldSize, maxEvents: 0 })
  const foldMs = performance.now() - started
  const key = await deriveKeyFromSecret(new Uint8Array(32).fill(1))
  const realistic = branch(base, 500, 'r')
  started = performance.now()
  const envelope = await encryptContainer(realistic, key)
  await decryptContainer(envelope, key)
  const cryptoMs = performance.now() - started
  return {
    mergeTwo10kBranchesMs: Math.round(mergeMs),
    mergedEvents: merged.events.length,
    fold100kEventsMs: Math.round(foldMs),
    encryptDecrypt500EventsMs: Math.round(cryptoMs * 10) / 10,
    envelope500EventsBytes: envelope.length,
  }
}
