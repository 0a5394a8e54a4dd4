import type { WalletBackendClient, WalletBackendError } from '@wallet-backend/sdk'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { createTestDatabase } from '../support/createTestDatabase.js'
import { TEST_DATABASE_URL } from '../support/storage.js'

const run = TEST_DATABASE_URL ? describe : describe.skip
const BURST = 100

let anvil: TestAnvil
let database: { url: string; drop: () => Promise<void> }
let one: TestBackend
let two: TestBackend

run(
  `a client's budget over two instances on PostgreSQL${TEST_DATABASE_URL ? '' : ' — skipped: TEST_DATABASE_URL is not set'}`,
  () => {
    beforeAll(async () => {
      anvil = await startAnvil()
      database = await createTestDatabase()
      // A read costs 1; the budget drains at 1 a second, so what passes is about the burst.
      const flags = {
        'database-url': database.url,
        'leader-retry-ms': '200',
        plans: JSON.stringify({ metered: { costPerSecond: 1, costBurst: BURST } }),
      }
      one = await startBackend(anvil, flags)
      two = await startBackend(anvil, flags)
    }, 60_000)

    afterAll(async () => {
      await two?.stop()
      await one?.stop()
      await anvil?.stop()
      await database?.drop()
    })

    /** Reads from `client` at once; how many were answered, failing on anything but a 429. */
    async function wave(client: WalletBackendClient, size: number): Promise<number> {
      const answers = await Promise.all(
        Array.from({ length: size }, () =>
          client.listInterests().then(
            () => true,
            (error: WalletBackendError) => {
              if (error.code !== 'RATE_LIMITED') throw error
              return false
            },
          ),
        ),
      )
      return answers.filter(Boolean).length
    }

    it('throttles a client flooding both instances at about one budget, not one per instance', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const [viaOne, viaTwo] = [one.client(account), two.client(account)]
      const { clientId } = await viaOne.signIn()
      expect((await one.admin('PUT', `/clients/${clientId}/plan`, { plan: 'metered' })).status).toBe(200)
      await viaTwo.signIn()

      // Waves of reads on both instances until a whole wave is refused on both.
      const answered = { one: 0, two: 0 }
      for (let i = 0; i < 60; i++) {
        const [a, b] = await Promise.all([wave(viaOne, 5), wave(viaTwo, 5)])
        answered.one += a
        answered.two += b
        if (a === 0 && b === 0) break
      }
      // Each instance alone would answer about a burst's worth; together they answer about one.
      expect(answered.one).toBeGreaterThan(0)
      expect(answered.two).toBeGreaterThan(0)
      expect(answered.one + answered.two).toBeLessThan(BURST * 1.4)
      const refusedOnOne = await viaOne.listInterests().catch((error: WalletBackendError) => error)
      expect(refusedOnOne).toMatchObject({ code: 'RATE_LIMITED' })
    }, 120_000)
  },
)
