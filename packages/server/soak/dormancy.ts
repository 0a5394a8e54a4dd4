import type { BackendProcess } from '../test/support/backendProcess.js'
import type { PollingClient } from './clients/PollingClient.js'
import type { Random } from './random.js'

export type DormancyCounts = {
  /** Clients made dormant through the admin API. */
  made: number
  /** Admin calls that failed (the backend was down or not ready). */
  failed: number
  /** Distinct `gap` items seen, and back-filling clients started for them. */
  gaps: number
}

/**
 * Makes a polling client dormant through the admin API: it goes quiet first, so that its next
 * request — which wakes it, with a `gap` item — comes a few blocks later.
 */
export async function makeDormant(
  backends: readonly BackendProcess[],
  adminToken: string,
  client: PollingClient,
  random: Random,
  counts: DormancyCounts,
): Promise<void> {
  const running = backends.filter((backend) => backend.running)
  if (!client.clientId || running.length === 0) return
  client.quiet(random.int(500, 4_000))
  const response = await fetch(`${random.pick(running).url}/admin/clients/${client.clientId}/dormant`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(5_000),
  }).catch(() => undefined)
  if (response?.ok) counts.made++
  else counts.failed++
}
