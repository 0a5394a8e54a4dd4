import { Type } from '@sinclair/typebox'
import { Account } from '@wallet-backend/sdk/protocol'
import type { Hex } from 'viem'
import {
  AccountNotFoundError,
  deleteAccount,
  listAccounts,
  putAccount,
} from '../../clients/accounts/accountStore.js'
import { checkBackfillQuota } from '../../delivery/backfill/backfillQuota.js'
import {
  ACCOUNT_ACTIVITY,
  type AccountActivityKind,
  DEFAULT_ACCOUNT_ACTIVITY,
} from '../../filters/accountActivity.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

const AccountParams = Type.Object({
  address: Type.String({
    pattern: '^0x[0-9a-fA-F]{40}$',
    description: 'An address of the wallet (20 bytes, hex): an EOA or a contract wallet, deployed or not',
  }),
})
const AccountBody = Type.Object(
  {
    activity: Type.Optional(
      Type.Array(Type.Union(ACCOUNT_ACTIVITY.map((kind) => Type.Literal(kind))), {
        minItems: 1,
        maxItems: ACCOUNT_ACTIVITY.length,
        uniqueItems: true,
        description: `What to follow (${DEFAULT_ACCOUNT_ACTIVITY.join(', ')} when left out): ${ACCOUNT_ACTIVITY.join(', ')}`,
      }),
    ),
    startBlock: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: Number.MAX_SAFE_INTEGER,
        description: "Back-fill history from this block first (within the plan's backfillBlocks)",
      }),
    ),
  },
  { additionalProperties: false },
)
/** A client's account interests: everything that touches one of its own addresses, in any contract. */
export async function accountRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  requireSession(app, context)
  app.addSchema(Account)
  const security = [{ session: [] }]

  app.get(
    '/',
    {
      schema: {
        tags: ['accounts'],
        summary: 'List the account interests of the signed-in client',
        security,
        response: {
          200: Type.Object({ accounts: Type.Array(Type.Ref(Account)) }),
          ...errorResponses(401, 503),
        },
      },
    },
    async (request) => ({ accounts: await listAccounts(context.runtime().db, sessionOf(request).idBytes) }),
  )

  app.put(
    '/:address',
    {
      config: { leaderOnly: true },
      schema: {
        tags: ['accounts'],
        summary: 'Follow the activity of an address in any contract, from the next block on',
        description:
          'native: transactions from or to it; tokens: ERC-20/721 Transfer and ERC-1155 TransferSingle/TransferBatch ' +
          'with it as sender or recipient; approvals: Approval and ApprovalForAll with it as owner; ' +
          'userOps: ERC-4337 UserOperationEvent with it as sender; internal: ether moved to or from it by calls inside transactions, ' +
          'where the node has traces. Each is an `account` item saying what moved.',
        security,
        params: AccountParams,
        body: AccountBody,
        response: { 200: Type.Ref(Account), ...errorResponses(400, 401, 409, 503) },
      },
    },
    async (request) => {
      const client = sessionOf(request)
      const { address } = request.params
      const body = request.body
      const runtime = context.leader()
      const head = runtime.follower.snapshot().head?.number
      if (body.startBlock !== undefined)
        await checkBackfillQuota(
          runtime.db,
          client.idBytes,
          address.toLowerCase() as Hex,
          { startBlock: body.startBlock, head },
          client.plan.backfillBlocks,
          'account',
        )
      const { account, stored } = await putAccount(runtime.db, client.idBytes, address.toLowerCase() as Hex, {
        activity: (body.activity ?? [...DEFAULT_ACCOUNT_ACTIVITY]) as AccountActivityKind[],
        maxAccounts: client.plan.accounts,
      })
      if (body.startBlock !== undefined && head !== undefined && body.startBlock <= head)
        await runtime.accountBackfills.start(stored, body.startBlock)
      else {
        await runtime.accountBackfills.cancel(stored.accountId)
        runtime.accounts.set(stored)
      }
      return account
    },
  )

  app.delete(
    '/:address',
    {
      config: { leaderOnly: true },
      schema: {
        tags: ['accounts'],
        summary: 'Stop following an address (its queued items go with it)',
        security,
        params: AccountParams,
        response: { 204: Type.Null(), ...errorResponses(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const { address } = request.params
      const runtime = context.leader()
      const id = await deleteAccount(runtime.db, sessionOf(request).idBytes, address.toLowerCase() as Hex)
      if (id === undefined) throw new AccountNotFoundError(address)
      runtime.accounts.remove(id)
      return reply.status(204).send(null)
    },
  )
}
