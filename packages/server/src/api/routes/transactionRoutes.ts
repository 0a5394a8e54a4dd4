import { type Static, Type } from '@sinclair/typebox'
import { Submission } from '@wallet-backend/sdk/protocol'
import type { Hex } from 'viem'
import { interestAddressById } from '../../clients/interests/interestStore.js'
import type { ChainPosition } from '../../delivery/deliveryStore.js'
import { TransactionNotFoundError } from '../../submissions/errors.js'
import type { SubmissionRecord } from '../../submissions/submissionStore.js'
import { findSubmission } from '../../submissions/submissionStore.js'
import { submitTransaction } from '../../submissions/submitTransaction.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

const SubmitBody = Type.Object(
  {
    raw: Type.String({
      pattern: '^0x([0-9a-fA-F]{2})+$',
      description: 'The signed transaction, serialized (EIP-2718 envelope or legacy RLP), as hex',
    }),
  },
  { additionalProperties: false },
)
const HashParams = Type.Object({
  hash: Type.String({ pattern: '^0x[0-9a-fA-F]{64}$', description: 'Transaction hash' }),
})
type SubmissionView = Static<typeof Submission>

function view(record: SubmissionRecord, interest: Hex | null, chain: ChainPosition): SubmissionView {
  const head = chain.head?.number
  return {
    hash: record.hash,
    status: record.status,
    from: record.from,
    nonce: record.nonce,
    interest,
    block: record.block,
    confirmations:
      record.block && head !== undefined && record.status !== 'replaced'
        ? Math.max(0, head - record.block.number + 1)
        : null,
    outcome: record.outcome,
    replacedBy: record.replacedBy,
    submittedAt: record.submittedAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    expiresAt: record.expiresAt.toISOString(),
  }
}

/** Submission of signed transactions, and their status. */
export async function transactionRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  requireSession(app, context)
  app.addSchema(Submission)
  const security = [{ session: [] }]

  const interestAddress = async (record: SubmissionRecord): Promise<Hex | null> => {
    if (record.clientContractId === null) return null
    return (await interestAddressById(context.runtime().db, record.clientContractId)) ?? null
  }

  app.post(
    '/',
    {
      config: { leaderOnly: true },
      schema: {
        tags: ['transactions'],
        summary: 'Submit a signed transaction for one of the client’s interests, and track it',
        description:
          'The transaction is checked, forwarded with eth_sendRawTransaction and tracked: every status ' +
          'change is a submitted-status item in the client’s queue. 202: accepted now; 200: already ' +
          'submitted by this client (the record as it stands). 503 with Retry-After: the node cannot ' +
          'take it now, nothing was recorded; sending the same bytes again is safe.',
        security,
        body: SubmitBody,
        response: {
          200: Type.Ref(Submission),
          202: Type.Ref(Submission),
          ...errorResponses(400, 401, 409, 413, 503),
        },
      },
    },
    async (request, reply) => {
      const client = sessionOf(request)
      const { raw } = request.body
      const runtime = context.leader()
      const { record, created } = await submitTransaction(
        runtime,
        context.config,
        client.id,
        raw as Hex,
        request.log,
      )
      const body = view(record, await interestAddress(record), runtime.chain())
      return reply.status(created ? 202 : 200).send(body)
    },
  )

  app.get(
    '/:hash',
    {
      schema: {
        tags: ['transactions'],
        summary: 'The current status of a transaction the client submitted',
        security,
        params: HashParams,
        response: { 200: Type.Ref(Submission), ...errorResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const { hash } = request.params
      const runtime = context.runtime()
      const normalized = hash.toLowerCase() as Hex
      const record = await findSubmission(runtime.db, sessionOf(request).id, normalized)
      if (!record) throw new TransactionNotFoundError(hash)
      return view(record, await interestAddress(record), runtime.chain())
    },
  )
}
