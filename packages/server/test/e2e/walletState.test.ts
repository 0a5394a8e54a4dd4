import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WalletBackendClient } from '@wallet-backend/sdk'
import {
  appendEvent,
  createContainer,
  deriveKeyFromSecret,
  encryptContainer,
} from '@wallet-backend/wallet-state'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/loadConfig.js'
import { createLogger } from '../../src/observability/createLogger.js'
import { Service } from '../../src/service/Service.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { createTestDatabase, TEST_DATABASE_URL } from '../support/storage.js'

const LIMIT = 4096
let anvil: TestAnvil

beforeAll(async () => {
  anvil = await startAnvil()
})
afterAll(async () => {
  await anvil.stop()
})

const sha = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex')

for (const driver of ['pglite', 'postgres'] as const) {
  const run = driver === 'postgres' && !TEST_DATABASE_URL ? describe.skip : describe
  run(
    `wallet state over HTTP [${driver}${driver === 'postgres' && !TEST_DATABASE_URL ? ' — skipped: TEST_DATABASE_URL is not set' : ''}]`,
    () => {
      let service: Service
      let dataDir: string
      let dropDatabase: (() => Promise<void>) | undefined
      let token: string
      let other: string

      beforeAll(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'wb-ws-'))
        let databaseUrl: string | undefined
        if (driver === 'postgres') {
          const db = await createTestDatabase()
          databaseUrl = db.url
          dropDatabase = db.drop
        }
        const config = loadConfig({
          flags: {
            port: '0',
            'data-dir': dataDir,
            'node-url': [anvil.node.httpUrl],
            'registration-pow-bits': '4',
            'wallet-state-max-bytes': String(LIMIT),
            'wallet-state-versions-kept': '2',
            ...(databaseUrl ? { 'database-url': databaseUrl } : {}),
          },
        })
        service = await Service.start({ config, logging: createLogger({ level: 'silent' }) })
        await service.lifecycle.waitFor('live')
        const signIn = async () => {
          const client = new WalletBackendClient({
            url: service.url,
            account: privateKeyToAccount(generatePrivateKey()),
          })
          await client.signIn()
          // The SDK keeps its token private; a second sign-in through the raw API gives one to use here.
          const challenge = await (
            await post('/v1/auth/challenge', { address: client.account.address })
          ).json()
          const signature = await client.account.signMessage({ message: challenge.message })
          const session = await (
            await post('/v1/auth/session', { message: challenge.message, signature })
          ).json()
          return session.token as string
        }
        token = await signIn()
        other = await signIn()
      })

      afterAll(async () => {
        await service?.stop()
        await dropDatabase?.()
        rmSync(dataDir, { recursive: true, force: true })
      })

      const post = (path: string, body: unknown) =>
        fetch(`${service.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      const get = (path = '', headers: Record<string, string> = {}, as = token) =>
        fetch(`${service.url}/v1/wallet-state${path}`, {
          headers: { authorization: `Bearer ${as}`, ...headers },
        })
      const put = (body: string | Buffer, headers: Record<string, string>, as = token) =>
        fetch(`${service.url}/v1/wallet-state`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${as}`, 'content-type': 'application/jose', ...headers },
          body: typeof body === 'string' ? body : new Uint8Array(body),
        })

      it('stores, serves with an ETag that is the hash of the bytes, and answers 304', async () => {
        expect((await get()).status).toBe(404)
        const missing = await put('first', {})
        expect(missing.status).toBe(428)
        expect(await missing.json()).toMatchObject({ code: 'PRECONDITION_REQUIRED' })
        const created = await put('first', { 'if-none-match': '*' })
        expect(created.status).toBe(201)
        expect(created.headers.get('etag')).toBe(`"${sha('first')}"`)
        const again = await put('other first', { 'if-none-match': '*' })
        expect(again.status).toBe(412)
        expect(again.headers.get('etag')).toBe(`"${sha('first')}"`)
        const read = await get()
        expect(read.status).toBe(200)
        expect(await read.text()).toBe('first')
        expect(read.headers.get('etag')).toBe(`"${sha('first')}"`)
        expect((await get('', { 'if-none-match': `"${sha('first')}"` })).status).toBe(304)
        expect((await get('', { 'if-none-match': `"${sha('nope')}"` })).status).toBe(200)
      })

      it('guards writes with If-Match and the seed’s headers, and accepts an idempotent retry', async () => {
        const current = sha('first')
        const second = await put('second', { 'if-match': `"${current}"` })
        expect(second.status).toBe(200)
        expect(await second.json()).toMatchObject({ etag: sha('second'), version: 2 })
        // The answer was lost and the device retries: same bytes, old ETag — a success, not a conflict.
        const retry = await put('second', { 'if-match': `"${current}"` })
        expect(retry.status).toBe(200)
        expect(await retry.json()).toMatchObject({ etag: sha('second'), version: 2 })
        const stale = await put('third', { 'if-match': `"${current}"` })
        expect(stale.status).toBe(412)
        expect(await stale.json()).toMatchObject({
          code: 'PRECONDITION_FAILED',
          details: { currentEtag: sha('second') },
        })
        expect((await put('third', { 'x-private-data-etag': sha('second') })).status).toBe(200)
        expect((await put('fourth', { 'x-private-data-if-match': sha('third') })).status).toBe(200)
      })

      it('refuses a state over the size quota with 413', async () => {
        const response = await put(Buffer.alloc(LIMIT + 1, 1), { 'if-match': sha('fourth') })
        expect(response.status).toBe(413)
        expect(await response.json()).toMatchObject({ code: 'WALLET_STATE_TOO_LARGE' })
        expect(await (await get()).text()).toBe('fourth')
      })

      it('lets exactly one of 20 concurrent writers with the same ETag win', async () => {
        const base = sha('fourth')
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            put(`writer ${i}`, { 'if-match': `"${base}"` }).then((r) => r.status),
          ),
        )
        expect(results.filter((status) => status === 200)).toHaveLength(1)
        expect(results.filter((status) => status === 412)).toHaveLength(19)
        const winner = results.indexOf(200)
        expect(await (await get()).text()).toBe(`writer ${winner}`)
      })

      it('keeps the last versions for recovery', async () => {
        const listed = await (await get('/versions')).json()
        const versions = listed.versions.map((v: { version: number }) => v.version)
        expect(versions).toEqual([5, 4, 3])
        const old = await get('/versions/4')
        expect(await old.text()).toBe('fourth')
        expect(old.headers.get('etag')).toBe(`"${sha('fourth')}"`)
        expect((await get('/versions/1')).status).toBe(404)
        expect((await get('/versions/abc')).status).toBe(400)
      })

      it('keeps clients apart', async () => {
        expect((await get('', {}, other)).status).toBe(404)
        expect((await get('/versions/5', {}, other)).status).toBe(404)
      })

      it('stores only ciphertext: no plaintext of a known marker reaches the database', async () => {
        const key = await deriveKeyFromSecret(new Uint8Array(32).fill(3))
        const container = appendEvent(createContainer(), 'new_credential', {
          credentialId: 'c',
          data: 'MARKER-PLAINTEXT-9',
        })
        const envelope = await encryptContainer(container, key)
        const current = (await get()).headers.get('etag')!
        expect((await put(envelope, { 'if-match': current })).status).toBe(200)
        const rows = await service.storage!.db.selectFrom('wallet_states').select('data').execute()
        const versions = await service
          .storage!.db.selectFrom('wallet_state_versions')
          .select('data')
          .execute()
        for (const row of [...rows, ...versions]) {
          expect(Buffer.from(row.data).toString('latin1')).not.toContain('MARKER-PLAINTEXT')
        }
        expect(await (await get()).text()).toBe(envelope)
      })
    },
  )
}
