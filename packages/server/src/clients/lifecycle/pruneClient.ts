import { type Hex, hexToBytes } from 'viem'
import { emptyQueue } from '../../delivery/deliveryStore.js'
import type { ClientIndexes } from './clientStages.js'

/**
 * Stage 2 of the abandoned-client policy: everything the client owns is deleted — interests with
 * their filters, watches and back-fills, its queue, submitted transactions and sessions — except
 * its identity, usage counters and wallet state, which stay for the wallet-state retention (a
 * returning user finds the state of their wallet; a client that never returns is deleted whole
 * when the retention ends). Returns false if there was no such client, or it was pruned already.
 */
export async function pruneClient(
  { db, filters, contractState, accounts }: ClientIndexes,
  clientId: Hex,
  at: Date = new Date(),
): Promise<boolean> {
  const id = hexToBytes(clientId)
  const done = await db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('clients')
      .set({ stage: 'pruned', stage_changed_at: at })
      .where('id', '=', id)
      .where('stage', '!=', 'pruned')
      .returning('id')
      .executeTakeFirst()
    if (!row) return false
    // The interests cascade to filters, watches, back-fill jobs and the items queued for them;
    // the database drops contracts nobody is interested in any more with them (docs/architecture.md, invariant 5).
    await trx.deleteFrom('client_contracts').where('client_id', '=', id).execute()
    await trx.deleteFrom('client_accounts').where('client_id', '=', id).execute()
    await emptyQueue(trx, id)
    await trx.deleteFrom('client_submitted_txs').where('client_id', '=', id).execute()
    await trx.deleteFrom('sessions').where('client_id', '=', id).execute()
    return true
  })
  filters.removeClient(clientId)
  contractState.index.removeClient(clientId)
  accounts?.removeClient(clientId)
  return done
}

/** Deletes the client and everything of its own, wallet state included (docs/architecture.md, invariant 4). */
export async function deleteClient(
  { db, filters, contractState, accounts }: ClientIndexes,
  clientId: Hex,
): Promise<boolean> {
  const gone = await db.deleteFrom('clients').where('id', '=', hexToBytes(clientId)).executeTakeFirst()
  filters.removeClient(clientId)
  contractState.index.removeClient(clientId)
  accounts?.removeClient(clientId)
  return gone.numDeletedRows > 0n
}
