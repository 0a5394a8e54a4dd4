import { Type } from '@sinclair/typebox'
import { Interest } from '@wallet-backend/sdk/protocol'
import type { Hex } from 'viem'
import {
  type InterestDeps,
  putClientInterest,
  withdrawClientInterest,
} from '../../clients/interests/changeInterest.js'
import { listInterests } from '../../clients/interests/interestStore.js'
import { ABI_LIMITS } from '../../clients/interests/validateAbi.js'
import { WATCH_KINDS } from '../../contract-state/compileWatch.js'
import { FILTER_CODES } from '../../filters/compileFilter.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { chargeRequestBytes, chargeResponseBytes } from '../plugins/chargeBytes.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { AddressParam } from '../schemas/common.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

const Filter = Type.Object(
  {
    code: Type.String({ description: `One of ${FILTER_CODES.join(', ')}` }),
    args: Type.Array(Type.Unknown(), { maxItems: 8 }),
  },
  { additionalProperties: false },
)
const Watch = Type.Object(
  {
    kind: Type.String({ description: `One of ${WATCH_KINDS.join(', ')}` }),
    args: Type.Array(Type.Unknown(), { maxItems: 1 }),
  },
  { additionalProperties: false },
)
const InterestBody = Type.Object(
  {
    filters: Type.Array(Filter, { maxItems: 1000 }),
    watches: Type.Optional(Type.Array(Watch, { maxItems: 1000, description: 'Contract state to watch' })),
    startBlock: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    abi: Type.Optional(
      Type.Array(Type.Unknown(), {
        description: `JSON ABI to decode matches with, when they are queued: at most ${ABI_LIMITS.bytes} bytes and ${ABI_LIMITS.entries} entries (400 ABI_TOO_LARGE, INVALID_ABI)`,
      }),
    ),
  },
  { additionalProperties: false },
)
const Params = Type.Object({ address: AddressParam })

/** The leader's parts that changing interests touches: interest writes run there. */
function interestDeps(context: AppContext): InterestDeps {
  const runtime = context.leader()
  return {
    db: runtime.db,
    head: () => runtime.follower.snapshot().head?.number,
    filters: runtime.filters,
    contractState: runtime.contractState,
    backfills: runtime.backfills,
    codeAt: (address) => runtime.node.request<Hex>('eth_getCode', [address, 'latest']).catch(() => undefined),
    watchUndeployed: (address) => runtime.delivery.watchUndeployed(address),
  }
}

/** A client's interests in contracts and the filters on each. */
export async function interestRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  requireSession(app, context)
  app.addSchema(Interest)
  const security = [{ session: [] }]

  app.get(
    '/',
    {
      onSend: chargeResponseBytes(context),
      schema: {
        tags: ['interests'],
        summary: 'List the interests of the signed-in client',
        security,
        response: {
          200: Type.Object({ interests: Type.Array(Type.Ref(Interest)) }),
          ...errorResponses(401, 503),
        },
      },
    },
    async (request) => ({ interests: await listInterests(context.runtime().db, sessionOf(request).idBytes) }),
  )

  app.put(
    '/:address',
    {
      config: { leaderOnly: true },
      // Before a standby forwards it: what an interest stores is paid for by its size.
      preValidation: (request) => chargeRequestBytes(context, request),
      schema: {
        tags: ['interests'],
        summary: 'Create or replace the interest in a contract, with its filters and state watches',
        description:
          'Filters: all []; logs [topic0, topic1?, topic2?, topic3?] (each null, a 32-byte value or a list); ' +
          'calls [selector, …]; transfers [address, "from"|"to"|"any"]; value [minimumWei?]. ' +
          'Watches: balance, nonce, codeHash, storageRoot []; slot [slot]; call [callData] (decoded with the ABI when it has the function). ' +
          'Each watch gets its current value as a state item, then one at every block where it changes.',
        security,
        params: Params,
        body: InterestBody,
        response: { 200: Type.Ref(Interest), ...errorResponses(400, 401, 409, 503) },
      },
    },
    async (request) =>
      putClientInterest(
        interestDeps(context),
        sessionOf(request),
        request.params.address.toLowerCase() as Hex,
        request.body,
      ),
  )

  app.delete(
    '/:address',
    {
      config: { leaderOnly: true },
      schema: {
        tags: ['interests'],
        summary: 'Withdraw the interest in a contract (its queued items go with it)',
        security,
        params: Params,
        response: { 204: Type.Null(), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const address = request.params.address.toLowerCase() as Hex
      await withdrawClientInterest(context.leader(), sessionOf(request).idBytes, address)
      return reply.status(204).send(null)
    },
  )
}
