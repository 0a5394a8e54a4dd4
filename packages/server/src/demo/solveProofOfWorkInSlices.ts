import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { proofOfWorkBits } from '../clients/auth/proofOfWork.js'

/** Hashes between two yields: a few milliseconds of work. */
const SLICE = 1_024

/**
 * The registration proof of work, as the SDK's solver finds it, in slices that give the event
 * loop back between them: the demo's wallets sign in inside the service's own process, which
 * must keep serving while they search.
 */
export async function solveProofOfWorkInSlices(
  nonce: string,
  address: string,
  difficulty: number,
): Promise<string> {
  if (difficulty === 0) return '0'
  for (let solution = 0; ; solution++) {
    if (proofOfWorkBits(nonce, address, String(solution)) >= difficulty) return String(solution)
    if (solution % SLICE === SLICE - 1) await yieldToEventLoop()
  }
}
