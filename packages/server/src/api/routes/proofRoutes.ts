import { Type } from '@sinclair/typebox'
import type { AccountProof } from '@wallet-backend/sdk/verify'
import type { Hex } from 'viem'
import { InterestNotFoundError } from '../../clients/interests/changeInterest.js'
import { hasInterest } from '../../clients/interests/interestStore.js'
import { findStoredBlock } from '../../proofs/findStoredBlock.js'
import { proveReceipt } from '../../proofs/proveReceipt.js'
import { proveTransaction } from '../../proofs/proveTransaction.js'
import type { ApiInstance } from '../ApiInstance.js'
import type { AppContext } from '../AppContext.js'
import { requireSession, sessionOf } from '../plugins/requireSession.js'
import { AddressParam, BlockRef } from '../schemas/common.js'
import { errorResponses } from '../schemas/ErrorResponse.js'

const Hash = Type.String({ pattern: '^0x[0-9a-fA-F]{64}$', description: 'A 32-byte hash' })
const BlockRefParam = Type.String({
  pattern: '^(0x[0-9a-fA-F]{64}|[0-9]{1,15})$',
  description: 'A block hash, or the number of a canonical block',
})
const Header = Type.Record(Type.String(), Type.Unknown(), {
  description: 'Every header field as the node returned it: RLP-encode and keccak them to get the hash',
})
const Proof = Type.Array(Type.String(), { description: 'Trie nodes from the root down, each RLP-encoded' })

/** Block headers and Merkle-Patricia proofs: what a client needs to check what it is told. */
export async function proofRoutes(app: ApiInstance, context: AppContext): Promise<void> {
  requireSession(app, context)
  const security = [{ session: [] }]

  app.get(
    '/blocks/:block',
    {
      schema: {
        tags: ['proofs'],
        summary: 'A stored block header, by hash or by canonical number',
        security,
        params: Type.Object({ block: BlockRefParam }),
        response: {
          200: Type.Object({
            number: Type.Integer(),
            hash: Type.String(),
            canonical: Type.Boolean(),
            verified: Type.Boolean({
              description:
                'False for a block accepted on the node’s word (transaction types the backend cannot check): its transactions and receipts are not proven',
            }),
            header: Header,
          }),
          ...errorResponses(400, 401, 404, 503),
        },
      },
    },
    async (request) => {
      const { block } = request.params as { block: string }
      const stored = await findStoredBlock(context.runtime().db, block)
      return {
        number: stored.number,
        hash: stored.hash,
        canonical: stored.canonical,
        verified: stored.verified,
        header: stored.header,
      }
    },
  )

  // A receipt or a transaction: a block and a position in it.
  const PositionQuery = Type.Object({ block: Hash, index: Type.Integer({ minimum: 0, maximum: 1_000_000 }) })
  app.get(
    '/proofs/receipt',
    {
      schema: {
        tags: ['proofs'],
        summary: 'Proof of a receipt (status, gas, logs) against the receiptsRoot of a stored block',
        security,
        querystring: PositionQuery,
        response: {
          200: Type.Object({
            block: BlockRef,
            receiptsRoot: Type.String(),
            index: Type.Integer(),
            receipt: Type.Record(Type.String(), Type.Unknown()),
            proof: Proof,
          }),
          ...errorResponses(400, 401, 404, 409, 429, 502, 503),
        },
      },
    },
    async (request) => {
      const { block, index } = request.query
      const runtime = context.runtime()
      return proveReceipt(runtime.node, await findStoredBlock(runtime.db, block), index)
    },
  )

  app.get(
    '/proofs/transaction',
    {
      schema: {
        tags: ['proofs'],
        summary:
          'Proof of a transaction (sender, recipient, value, input) against the transactionsRoot of a stored block',
        security,
        querystring: PositionQuery,
        response: {
          200: Type.Object({
            block: BlockRef,
            transactionsRoot: Type.String(),
            index: Type.Integer(),
            transaction: Type.String({
              description:
                'The signed transaction as the trie holds it: its EIP-2718 envelope, or RLP for a legacy one',
            }),
            proof: Proof,
          }),
          ...errorResponses(400, 401, 404, 409, 429, 502, 503),
        },
      },
    },
    async (request) => {
      const { block, index } = request.query
      const runtime = context.runtime()
      return proveTransaction(runtime.node, await findStoredBlock(runtime.db, block), index)
    },
  )

  const StateQuery = Type.Object({
    address: AddressParam,
    block: Hash,
    slots: Type.Optional(
      Type.String({
        pattern: '^0x[0-9a-fA-F]{1,64}(,0x[0-9a-fA-F]{1,64}){0,15}$',
        description: 'Up to 16 storage slots, comma-separated',
      }),
    ),
  })
  app.get(
    '/proofs/state',
    {
      schema: {
        tags: ['proofs'],
        summary:
          'EIP-1186 proof of an interest’s account and storage slots against the stateRoot of a stored block',
        security,
        querystring: StateQuery,
        response: {
          200: Type.Object({
            block: BlockRef,
            stateRoot: Type.String(),
            proof: Type.Record(Type.String(), Type.Unknown()),
          }),
          ...errorResponses(400, 401, 404, 429, 502, 503),
        },
      },
    },
    async (request) => {
      const query = request.query
      const runtime = context.runtime()
      const address = query.address.toLowerCase() as Hex
      // Proofs of the client's own interests only: the backend is not an open gateway to its node.
      if (!(await hasInterest(runtime.db, sessionOf(request).idBytes, address)))
        throw new InterestNotFoundError(address)
      const block = await findStoredBlock(runtime.db, query.block)
      const slots = (query.slots?.split(',') ?? []).map((slot) => `0x${slot.slice(2).padStart(64, '0')}`)
      const proof = await runtime.node.request<AccountProof>('eth_getProof', [
        address,
        slots,
        { blockHash: block.hash },
      ])
      return { block: { number: block.number, hash: block.hash }, stateRoot: block.header.stateRoot, proof }
    },
  )
}
