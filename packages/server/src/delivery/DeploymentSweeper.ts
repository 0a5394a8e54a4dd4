import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { bytesToHex, type Hex, hexToBytes, keccak256 } from 'viem'
import type { Follower } from '../chain/follower/Follower.js'
import type { NodeClient } from '../chain/NodeClient.js'
import type { DB } from '../storage/schema.js'
import type { DeliveryListener } from './DeliveryListener.js'

const BATCH = 200

/**
 * A contract deployed by a factory (CREATE2) appears in no receipt, and may emit no log: the only
 * sure sign is code at its address. Every `intervalMs`, the watched addresses still without code
 * are asked for it (eth_getCode at the stored head, in batches); those that have some get their
 * `deployed` item, stamped with the block at which the code was seen.
 */
export class DeploymentSweeper {
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined

  constructor(
    private readonly options: {
      db: Kysely<DB>
      node: NodeClient
      follower: Follower
      delivery: DeliveryListener
      logger: Logger
      intervalMs: number
    },
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.sweep()
        .then(() => {})
        .catch((error: unknown) => this.options.logger.warn({ err: error }, 'deployment sweep failed'))
        .finally(() => {
          this.#running = undefined
        })
    }, this.options.intervalMs)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running
  }

  /** One pass over the undeployed watched addresses; returns how many turned out deployed. */
  async sweep(): Promise<number> {
    const head = this.options.follower.snapshot().head
    if (!head) return 0
    const rows = await this.options.db
      .selectFrom('deployed_contracts')
      .select('address')
      .where('is_deployed', '=', false)
      .execute()
    let found = 0
    for (let i = 0; i < rows.length; i += BATCH) {
      const addresses = rows.slice(i, i + BATCH).map((row) => bytesToHex(row.address))
      const codes = await this.options.node.batch<Hex>(
        addresses.map((address) => ({
          method: 'eth_getCode',
          params: [address, `0x${head.number.toString(16)}`],
        })),
      )
      const deployed = addresses
        .map((address, j) => ({ address, code: codes[j] }))
        .filter((entry) => entry.code?.ok && entry.code.value !== '0x')
      for (const { address, code } of deployed) {
        const codeHash = code?.ok ? keccak256(code.value) : null
        await this.options.db.transaction().execute(async (trx) => {
          const updated = await trx
            .updateTable('deployed_contracts')
            .set({
              is_deployed: true,
              deployed_block_number: head.number,
              deployed_block_hash: hexToBytes(head.hash),
              ...(codeHash ? { code_hash: hexToBytes(codeHash) } : {}),
            })
            .where('address', '=', hexToBytes(address))
            .where('is_deployed', '=', false)
            .returning('address')
            .executeTakeFirst()
          if (updated) await this.options.delivery.enqueueDeployed(trx, address, head, 'code')
        })
        this.options.delivery.forgetUndeployed(address)
        this.options.delivery.committed()
        found += 1
      }
    }
    if (found > 0) this.options.logger.info({ found, head: head.number }, 'deployments found by code sweep')
    return found
  }
}
