import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { type Hex, hexToBytes } from 'viem'
import { Follower } from '../../src/chain/follower/Follower.js'
import type { NodeClient } from '../../src/chain/NodeClient.js'
import { DeliveryListener } from '../../src/delivery/DeliveryListener.js'
import { DeliveryQueue } from '../../src/delivery/DeliveryQueue.js'
import { Deployments } from '../../src/delivery/Deployments.js'
import { Notifier } from '../../src/delivery/Notifier.js'
import { FilterIndex } from '../../src/filters/FilterIndex.js'
import type { Storage } from '../../src/storage/openStorage.js'
import type { DB } from '../../src/storage/schema.js'

/** A client row and its usage row, as registering one makes them. */
export async function insertTestClient(db: Kysely<DB>, clientId: Hex): Promise<void> {
  await db
    .insertInto('clients')
    .values({ id: hexToBytes(clientId) })
    .execute()
  await db
    .insertInto('client_usage')
    .values({ client_id: hexToBytes(clientId) })
    .execute()
}

/**
 * The follower and the delivery listener on `storage`, matching the stored interests: the part
 * of the leader that back-fills hand over to. Not started.
 */
export async function deliveryPipeline(options: {
  storage: Storage
  node: NodeClient
  logger: Logger
  confirmations?: number
}) {
  const { storage, node, logger } = options
  const { db } = storage
  const metrics = new Registry()
  const queue = new DeliveryQueue({
    db,
    notifier: new Notifier(storage),
    logger,
    metrics,
    onDormant: () => {},
  })
  const delivery = new DeliveryListener({
    filters: await FilterIndex.load(db),
    queue,
    deployments: new Deployments(),
    producers: [],
    logger,
  })
  const follower = new Follower({
    db,
    node,
    listener: delivery,
    logger,
    metrics,
    pollIntervalMs: 50,
    startBlock: 0,
    confirmations: options.confirmations ?? 5,
    batchSize: 10,
    retainFinalizedBlocks: 1000,
  })
  return { metrics, queue, delivery, follower }
}
