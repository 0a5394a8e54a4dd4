import type { Hex, Watch } from '@wallet-backend/sdk'
import type { LocalAccount } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { TrafficPlan } from './chainTraffic.js'
import { GET_SELECTOR } from './checkState.js'
import { PollingClient } from './clients/PollingClient.js'
import { RawStreamClient } from './clients/RawStreamClient.js'
import { SdkStreamClient } from './clients/SdkStreamClient.js'
import type { SoakClientBase } from './clients/SoakClient.js'
import type { SoakInterest } from './observations.js'
import type { Random } from './random.js'

/**
 * What a client is in the run for — which producer of items it judges: filter matches of
 * contracts, account activity, contract-state watches, its own submitted transactions, or
 * dormancy (the dormant client's gaps and the clients back-filling them).
 */
export const ROLES = ['filters', 'accounts', 'state', 'submissions', 'dormancy'] as const
export type Role = (typeof ROLES)[number]

export type RunClient = { kind: string; role: Role; client: SoakClientBase }

const TRANSFER_TOPIC: Hex = '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'

/** The storage contract's values every state client watches. */
export const STATE_WATCHES: Watch[] = [
  { kind: 'balance', args: [] },
  { kind: 'slot', args: ['0x0'] },
  { kind: 'call', args: [GET_SELECTOR] },
]

const KINDS = ['sdk-stream', 'raw-stream', 'polling'] as const
type Kind = (typeof KINDS)[number]

function client(
  kind: Kind,
  name: string,
  url: string,
  interests: SoakInterest[],
  random: Random,
  account: LocalAccount = privateKeyToAccount(generatePrivateKey()),
): SoakClientBase {
  if (kind === 'sdk-stream') return new SdkStreamClient(name, url, account, interests, random)
  if (kind === 'raw-stream') return new RawStreamClient(name, url, account, interests, random)
  return new PollingClient(name, url, account, interests, random)
}

/** The interests filter client `index` installs: token logs, transfers to one party, everything of a token. */
function interestsOf(index: number, plan: TrafficPlan): SoakInterest[] {
  const [tokenA, tokenB] = plan.tokens as [Hex, Hex]
  const sets: SoakInterest[][] = [
    [{ address: tokenA, filter: { code: 'logs', args: [TRANSFER_TOPIC] } }],
    [
      { address: tokenA, filter: { code: 'transfers', args: [plan.recipients[0], 'to'] } },
      { address: tokenB, filter: { code: 'all', args: [] } },
    ],
    [{ address: tokenB, filter: { code: 'all', args: [] } }],
  ]
  return sets[(index + Math.floor(index / 3)) % sets.length]!
}

/** Filter client `index`: the three kinds in turn. */
export function filterClient(index: number, url: string, plan: TrafficPlan, random: Random): RunClient {
  const kind = KINDS[index % 3]!
  const name = `${kind === 'sdk-stream' ? 'sdk' : kind === 'raw-stream' ? 'raw' : 'poll'}-${index}`
  return {
    kind,
    role: 'filters',
    client: client(kind, name, url, interestsOf(index, plan), random.fork(`client-${index}`)),
  }
}

/** The clients of the other producers, one each, spread over the instances by `urlOf`. */
export function producerClients(
  urlOf: (index: number) => string,
  plan: TrafficPlan,
  submitKey: LocalAccount,
  random: Random,
): {
  accounts: RunClient
  state: RunClient
  submissions: RunClient
  dormant: RunClient & { client: PollingClient }
} {
  const [tokenA, tokenB] = plan.tokens as [Hex, Hex]
  const accounts = client('sdk-stream', 'accounts', urlOf(0), [], random.fork('accounts'))
  accounts.record.accounts = [
    { address: plan.senders[0]!, activity: ['native', 'tokens'] },
    { address: plan.recipients[1]!, activity: ['tokens'] },
  ]
  const state = client(
    'raw-stream',
    'state',
    urlOf(1),
    [{ address: plan.store, filter: { code: 'all', args: [] }, watches: STATE_WATCHES }],
    random.fork('state'),
  )
  // It follows what it sends, as a wallet does: transfers from its key.
  const submissions = client(
    'sdk-stream',
    'submissions',
    urlOf(2),
    [{ address: tokenA, filter: { code: 'transfers', args: [submitKey.address, 'from'] } }],
    random.fork('submissions'),
  )
  const dormant = new PollingClient(
    'dormant',
    urlOf(3),
    privateKeyToAccount(generatePrivateKey()),
    [{ address: tokenB, filter: { code: 'all', args: [] } }],
    random.fork('dormant'),
  )
  dormant.record.dormant = true
  return {
    accounts: { kind: 'sdk-stream', role: 'accounts', client: accounts },
    state: { kind: 'raw-stream', role: 'state', client: state },
    submissions: { kind: 'sdk-stream', role: 'submissions', client: submissions },
    dormant: { kind: 'polling', role: 'dormancy', client: dormant },
  }
}

/**
 * A client that back-fills what a gap of the dormant client names: the same interests, from the
 * gap's first block (history, then live), judged from there on.
 */
export function backfillClient(
  number: number,
  dormant: SoakClientBase,
  fromBlock: number,
  url: string,
  random: Random,
): RunClient {
  const interests = dormant.record.interests.map((interest) => ({ ...interest, startBlock: fromBlock }))
  const backfill = client(
    'sdk-stream',
    `backfill-${number}`,
    url,
    interests,
    random.fork(`backfill-${number}`),
  )
  backfill.record.matchedFrom = fromBlock
  return { kind: 'sdk-stream', role: 'dormancy', client: backfill }
}
