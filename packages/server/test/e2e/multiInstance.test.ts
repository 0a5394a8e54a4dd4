import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DeliveryItem, type Stream, WalletBackendClient } from '@wallet-backend/sdk'
import { createPublicClient, type Hex, http } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import type { HealthReport } from '../../src/api/schemas/Health.js'
import { freePort } from '../../src/chain/node/freePort.js'
import { TRANSFER_TOPIC } from '../../src/filters/compileFilter.js'
import { openStorage } from '../../src/storage/openStorage.js'
import { adminRequest } from '../support/adminRequest.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { startBackend, type TestBackend } from '../support/backend.js'
import { type BackendProcess, backendProcess } from '../support/backendProcess.js'
import { deployTransferEmitter, devAccount, sendTransfer } from '../support/chainActivity.js'
import { createTestDatabase } from '../support/createTestDatabase.js'
import { TEST_DATABASE_URL } from '../support/storage.js'
import { waitUntil } from '../support/waitUntil.js'

const run = TEST_DATABASE_URL ? describe : describe.skip
const RETRY_MS = '200'

let anvil: TestAnvil
let database: { url: string; drop: () => Promise<void> }
/** The first instance: a separate process, so that it can be killed like a crashed machine. */
let first: BackendProcess
let firstDir: string
/** The second instance, in this process, so its internals can be looked at. */
let second: TestBackend
let token: Hex
let accounts: Hex[]

const healthOf = async (url: string): Promise<HealthReport> =>
  (await (await fetch(`${url}/health`)).json()) as HealthReport

run(
  `several instances on one PostgreSQL database${TEST_DATABASE_URL ? '' : ' — skipped: TEST_DATABASE_URL is not set'}`,
  () => {
    beforeAll(async () => {
      anvil = await startAnvil()
      accounts = await anvil.accounts()
      token = await deployTransferEmitter(anvil)
      database = await createTestDatabase()
      firstDir = mkdtempSync(join(tmpdir(), 'wb-multi-'))
      first = backendProcess({
        dataDir: firstDir,
        port: await freePort(),
        nodeUrl: anvil.node.wsUrl,
        flags: [
          ['--database-url', database.url],
          ['--leader-retry-ms', RETRY_MS],
          ['--poll-interval-ms', '50'],
          ['--registration-pow-bits', '8'],
          ['--start-block', '0'],
          ['--log-level', 'warn'],
        ].flat(),
      })
      await first.start()
      await waitUntil(
        async () => (await healthOf(first.url)).leadership?.role === 'leader',
        15_000,
        'a leader',
      )
      second = await startBackend(anvil, { 'database-url': database.url, 'leader-retry-ms': RETRY_MS })
    }, 60_000)

    afterAll(async () => {
      await second?.stop()
      await first?.kill()
      await anvil?.stop()
      await database?.drop()
      if (firstDir) rmSync(firstDir, { recursive: true, force: true })
    })

    /** Transfers of the token in blocks above `from`, as the node has them: what a client must get. */
    async function logsOfNode(from: number): Promise<string[]> {
      const logs = await anvil.rpc<{ blockNumber: string; logIndex: string }[]>('eth_getLogs', [
        { fromBlock: `0x${(from + 1).toString(16)}`, toBlock: 'latest', address: token },
      ])
      return logs.map((log) => `${Number(log.blockNumber)}:${Number(log.logIndex)}`)
    }
    const keyOf = (item: DeliveryItem) => `${item.block!.number}:${item.logIndex}`
    const transfers = async (n: number) => {
      for (let i = 0; i < n; i++) await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, BigInt(i + 1))
    }

    const streamed: DeliveryItem[] = []
    let stream: Stream | undefined
    let client: ReturnType<TestBackend['client']>
    let start = 0

    it('one instance leads, the other stands by and forwards it the writes; a client of the standby gets every log', async () => {
      const leader = await healthOf(first.url)
      expect(leader.leadership).toMatchObject({ role: 'leader', term: 1 })
      const standby = second.service.health()
      expect(standby.state).toBe('live')
      expect(standby.leadership).toMatchObject({ role: 'standby', term: 1, leaderUrl: first.url })
      expect(second.service.follower).toBeUndefined()

      // Sign-in, interest and stream all go to the standby: the first two are forwarded.
      client = second.client()
      await client.signIn()
      start = await anvil.blockNumber()
      await client.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
      expect((await client.listInterests()).map((i) => i.address.toLowerCase())).toEqual([
        token.toLowerCase(),
      ])
      stream = client.stream({ onItem: (item) => void streamed.push(item) })
      await transfers(5)
      const wanted = await logsOfNode(start)
      expect(wanted).toHaveLength(5)
      // The leader queued them; the standby heard of them through LISTEN/NOTIFY and streamed them.
      await waitUntil(() => streamed.length >= 5, 20_000, 'five streamed items')
      expect(streamed.map(keyOf)).toEqual(wanted)
      // The standby serves the chain position the leader recorded.
      await waitUntil(
        () => second.service.health().head?.number === Number(wanted.at(-1)!.split(':')[0]),
        10_000,
        'the standby to learn the head',
      )
    })

    /** A JSON-RPC wallet of the standby: its filter must outlive the leader killed next. */
    let rpcWallet: { url: string; filter: Hex; from: number } | undefined

    it('a JSON-RPC wallet of the standby: its raw transaction is tracked by the leader, its filter is served by the standby', async () => {
      const wallet = second.client()
      await wallet.signIn()
      const { url } = await wallet.createRpcKey()
      const viem = createPublicClient({ transport: http(url), pollingInterval: 100 })
      const filter = await viem.request({ method: 'eth_newFilter', params: [{ address: token }] })
      rpcWallet = { url, filter, from: await anvil.blockNumber() }

      const account = devAccount(6)
      const raw = await account.signTransaction({
        chainId: await viem.getChainId(),
        nonce: await viem.getTransactionCount({ address: account.address }),
        to: accounts[1]!,
        value: 1n,
        gas: 21_000n,
        maxFeePerGas: 10_000_000_000n,
        maxPriorityFeePerGas: 1n,
        type: 'eip1559',
      })
      const hash = await viem.sendRawTransaction({ serializedTransaction: raw })
      expect((await viem.waitForTransactionReceipt({ hash, pollingInterval: 100 })).status).toBe('success')
      // The leader recorded it for this client, and queued its status items as for POST /v1/transactions.
      expect((await wallet.getTransaction(hash)).hash).toBe(hash)
      await waitUntil(
        async () =>
          (await wallet.deliveries({ after: 0, limit: 50 })).items.some(
            (item) => item.kind === 'submitted-status' && item.txHash === hash,
          ),
        20_000,
        'the submission’s status items',
      )
    })

    it('when the leader is killed, the standby takes over: nothing lost, nothing queued twice', async () => {
      await first.kill()
      // Blocks mined while nobody leads are caught up by the new leader.
      await transfers(3)
      await waitUntil(() => second.service.health().leadership?.role === 'leader', 20_000, 'a new leader')
      expect(second.service.health().leadership?.term).toBe(2)
      await transfers(3)
      await second.synced()
      const wanted = await logsOfNode(start)
      expect(wanted).toHaveLength(11)
      await waitUntil(() => streamed.length >= 11, 20_000, 'eleven streamed items')
      expect(streamed.map(keyOf)).toEqual(wanted)
      const queued = await second.everything(client)
      expect(queued.map(keyOf)).toEqual(wanted)
      expect(new Set(queued.map((i) => i.cursor)).size).toBe(queued.length)

      // The JSON-RPC filter made on the standby is served by it as the leader now: never "not
      // found", and it holds every transfer since it was made, those mined while nobody led too.
      const { url, filter, from } = rpcWallet!
      const changes = await createPublicClient({ transport: http(url) }).request({
        method: 'eth_getFilterChanges',
        params: [filter],
      })
      const logs = changes as { blockNumber: Hex; logIndex: Hex; removed: boolean }[]
      expect(
        logs.filter((log) => !log.removed).map((log) => `${Number(log.blockNumber)}:${Number(log.logIndex)}`),
      ).toEqual(await logsOfNode(from))
    })

    it('a leader whose term was ended behind its back cannot commit; it steps down and one instance leads again', async () => {
      await first.start() // back as a standby: the second instance leads
      await waitUntil(
        async () => (await healthOf(first.url)).leadership?.role === 'standby',
        15_000,
        'standby',
      )
      // Another election as far as the database knows, which the leader has not seen.
      const admin = await openStorage({ driver: 'postgres', url: database.url, poolSize: 1 })
      await admin.db.updateTable('leadership').set({ term: 10 }).execute()
      await admin.close()
      await transfers(2)
      // The leader's next commit found its term over: it stepped down, and an election followed.
      await waitUntil(
        async () => {
          const roles = [second.service.health().leadership, (await healthOf(first.url)).leadership]
          return (
            roles.filter((r) => r?.role === 'leader').length === 1 && roles.every((r) => (r?.term ?? 0) > 10)
          )
        },
        20_000,
        'a leader of a new term',
      )
      await transfers(2)
      const wanted = await logsOfNode(start)
      expect(wanted).toHaveLength(15)
      await waitUntil(() => streamed.length >= 15, 20_000, 'fifteen streamed items')
      stream?.close()
      expect(streamed.map(keyOf)).toEqual(wanted)
      const queued = await second.everything(client)
      expect(queued.map(keyOf)).toEqual(wanted)
    })
    it('an admin stage change and a dormant client’s return through the standby are carried out by the leader', async () => {
      const instances = [
        { url: second.service.url, dataDir: second.dataDir },
        { url: first.url, dataDir: firstDir },
      ]
      const roles = await Promise.all(instances.map(async (i) => (await healthOf(i.url)).leadership?.role))
      const standby = instances[roles.indexOf('standby')]!
      const wallet = new WalletBackendClient({
        url: standby.url,
        account: privateKeyToAccount(generatePrivateKey()),
        WebSocket: WebSocket as never,
      })
      const { clientId } = await wallet.signIn()
      const from = await anvil.blockNumber()
      await wallet.putInterest(token, { filters: [{ code: 'logs', args: [TRANSFER_TOPIC] }] })
      await transfers(1)
      await waitUntil(
        async () => (await wallet.deliveries({ after: 0, limit: 10 })).items.length === 1,
        20_000,
        'a log',
      )
      // Dormant by the admin API of the standby: the leader takes the client out of its indexes.
      const dormant = await adminRequest(standby.url, standby.dataDir, 'POST', `/clients/${clientId}/dormant`)
      expect(dormant.status).toBe(200)
      expect(await dormant.json()).toEqual({ stage: 'dormant' })
      await transfers(2)
      const latest = (await anvil.block('latest')).hash
      await waitUntil(async () => (await healthOf(standby.url)).head?.hash === latest, 20_000, 'the head')
      const missed = (await logsOfNode(from)).slice(1)
      expect(missed).toHaveLength(2)
      // Its next request, to the standby, wakes it through the leader: a gap instead of the two logs.
      const items = (await wallet.deliveries({ after: 0, limit: 10 })).items
      expect(items.map((i) => i.kind)).toEqual(['log', 'gap'])
      const gap = items[1]!.data as { fromBlock: number; toBlock: number }
      for (const key of missed) {
        const block = Number(key.split(':')[0])
        expect(gap.fromBlock <= block && block <= gap.toBlock).toBe(true)
      }
    })
  },
)
