import { Type } from '@sinclair/typebox'
import { type Hex, hexToBytes } from 'viem'
import { deleteInterest, listInterests, putInterest } from '../../clients/interests/interestStore.js'
import { ABI_LIMITS, validateAbi } from '../../clients/interests/validateAbi.js'
import { compileWatch, WATCH_KINDS } from '../../contract-state/compileWatch.js'
import { checkBackfillQuota } from '../../delivery/backfill/backfillQuota.js'
import { BaseError } from '../../errors/BaseError.js'
import { compileFilter, FILTER_CODES } from '../../filters/compileFilter.js'
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
const BackfillStatus = Type.Object(
  {
    status: Type.String({ description: 'pending, running, done or failed (after bounded retries)' }),
    fromBlock: Type.Integer(),
    toBlock: Type.Integer({ description: 'The head when it was asked for; it runs on to live matching' }),
    nextBlock: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
  },
  { description: "The interest's back-fill of history, if its startBlock asked for one" },
)
const Interest = Type.Object(
  {
    address: Type.String(),
    startBlock: Type.Union([Type.Integer(), Type.Null()]),
    abi: Type.Union([Type.Array(Type.Unknown()), Type.Null()]),
    deployed: Type.Boolean(),
    filters: Type.Array(
      Type.Object({ id: Type.Integer(), code: Type.String(), args: Type.Array(Type.Unknown()) }),
    ),
    watches: Type.Array(
      Type.Object({ id: Type.Integer(), kind: Type.String(), args: Type.Array(Type.Unknown()) }),
    ),
    backfill: Type.Union([BackfillStatus, Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Interest' },
)
const Params = Type.Object({ address: AddressParam })

export class TooManyFiltersError extends BaseError {
  override readonly name = 'TooManyFiltersError'
  constructor(limit: number) {
    super('TOO_MANY_FILTERS', `An interest may have at most ${limit} filters`, {
      status: 400,
      details: { limit },
    })
  }
}

export class TooManyWatchesError extends BaseError {
  override readonly name = 'TooManyWatchesError'
  constructor(limit: number) {
    super('TOO_MANY_WATCHES', `An interest may have at most ${limit} state watches`, {
      status: 400,
      details: { limit },
    })
  }
}

export class InterestNotFoundError extends BaseError {
  override readonly name = 'InterestNotFoundError'
  constructor(address: string) {
    super('INTEREST_NOT_FOUND', `No interest in ${address}`, { status: 404 })
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
    async (request) => {
      const client = sessionOf(request)
      const { address: raw } = request.params
      const body = request.body
      const address = raw.toLowerCase() as Hex
      const { plan } = client
      if (body.filters.length > plan.filtersPerInterest)
        throw new TooManyFiltersError(plan.filtersPerInterest)
      const filters = body.filters.map((filter, i) => ({
        ...filter,
        cost: compileFilter(filter.code, filter.args, i).cost,
      }))
      if (body.abi) validateAbi(body.abi)
      const watches = body.watches ?? []
      if (watches.length > plan.watchesPerInterest) throw new TooManyWatchesError(plan.watchesPerInterest)
      for (const [i, watch] of watches.entries()) compileWatch(watch.kind, watch.args, i)
      const runtime = context.runtime()
      if (body.startBlock !== undefined) {
        const range = { startBlock: body.startBlock, head: runtime.follower.snapshot().head?.number }
        await checkBackfillQuota(runtime.db, client.idBytes, address, range, plan.backfillBlocks)
      }
      const { interest, stored, watched } = await putInterest(runtime.db, client.idBytes, address, {
        filters,
        watches,
        startBlock: body.startBlock ?? null,
        abi: body.abi ?? null,
        maxInterests: plan.interests,
        maxFilterCost: plan.filterCost,
      })
      // History first: with a start block at or below the stored head, a back-fill scans up to
      // live matching and hands the interest over there; otherwise it is live from now on.
      const head = runtime.follower.snapshot().head?.number
      // The interest's earlier back-fill, finished or not, is replaced by this request's (if any).
      await runtime.db
        .deleteFrom('backfill_jobs')
        .where('client_contract_id', '=', stored.clientContractId)
        .execute()
      interest.backfill = null
      if (body.startBlock !== undefined && head !== undefined && body.startBlock <= head) {
        runtime.filters.removeInterest(stored.clientContractId)
        const job = await runtime.db
          .insertInto('backfill_jobs')
          .values({
            client_contract_id: stored.clientContractId,
            from_block: body.startBlock,
            to_block: head,
            next_block: body.startBlock,
            status: 'pending',
          })
          .returning('id')
          .executeTakeFirstOrThrow()
        interest.backfill = {
          status: 'pending',
          fromBlock: body.startBlock,
          toBlock: head,
          nextBlock: body.startBlock,
          error: null,
        }
        runtime.backfills.submit(job.id)
      } else {
        runtime.filters.setInterest(stored)
      }
      runtime.contractState.setInterest(watched)
      if (!interest.deployed) {
        // Code already at the address: deployed before the interest, so no `deployed` item is due.
        const code = await runtime.node
          .request<Hex>('eth_getCode', [address, 'latest'])
          .catch(() => undefined)
        if (code && code !== '0x') {
          await runtime.db
            .updateTable('deployed_contracts')
            .set({ is_deployed: true })
            .where('address', '=', hexToBytes(address))
            .execute()
          interest.deployed = true
        } else {
          runtime.delivery.watchUndeployed(address)
        }
      }
      return interest
    },
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
      const { address } = request.params
      const runtime = context.runtime()
      const id = await deleteInterest(runtime.db, sessionOf(request).idBytes, address.toLowerCase() as Hex)
      if (id === undefined) throw new InterestNotFoundError(address)
      runtime.filters.removeInterest(id)
      runtime.contractState.removeInterest(id)
      return reply.status(204).send(null)
    },
  )
}
