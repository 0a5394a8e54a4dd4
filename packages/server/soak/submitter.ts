import type { Hex } from '@wallet-backend/sdk'
import { keccak256, type LocalAccount, parseGwei } from 'viem'
import type { TestAnvil } from '../test/support/anvil.js'
import { transferCalldata } from './chainTraffic.js'
import type { SoakClientBase } from './clients/SoakClient.js'
import type { SoakSubmission } from './observations.js'
import type { Random } from './random.js'

export type SubmissionCounts = { signed: number; accepted: number; refused: number }

/** A wait that gives up; the request it waited for may still finish, and is still recorded then. */
const within = (ms: number, work: Promise<unknown>) =>
  Promise.race([work, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), ms))])

/**
 * A wallet sending its own transactions through the backend: transfers of `token`, signed with
 * its key at the node's next nonce for it. After the node lost blocks to a crash, that nonce may
 * be one the backend still has pending: then one of the two is replaced.
 */
export class Submitter {
  readonly counts: SubmissionCounts = { signed: 0, accepted: 0, refused: 0 }
  readonly submissions: SoakSubmission[] = []

  constructor(
    private readonly client: SoakClientBase,
    private readonly key: LocalAccount,
    private readonly anvil: TestAnvil,
    private readonly chainId: number,
    private readonly token: Hex,
    private readonly recipient: Hex,
  ) {
    client.record.submissions = this.submissions
  }

  async submit(random: Random): Promise<void> {
    let raw: Hex
    let nonce: number
    try {
      nonce = Number(await this.anvil.rpc<Hex>('eth_getTransactionCount', [this.key.address, 'pending']))
      raw = await this.key.signTransaction({
        type: 'eip1559',
        chainId: this.chainId,
        to: this.token,
        nonce,
        gas: 100_000n,
        maxFeePerGas: parseGwei('10'),
        maxPriorityFeePerGas: parseGwei('1'),
        data: transferCalldata(this.recipient, BigInt(random.int(1, 1_000_000))),
      })
    } catch {
      return // the node is down: nothing was sent
    }
    const submission: SoakSubmission = {
      hash: keccak256(raw),
      from: this.key.address,
      nonce,
      accepted: false,
    }
    this.submissions.push(submission)
    this.counts.signed++
    await within(
      5_000,
      this.client.sdk.submitTransaction(raw).then(() => {
        submission.accepted = true
        this.counts.accepted++
      }),
    ).catch(() => {
      this.counts.refused++
    })
  }
}
