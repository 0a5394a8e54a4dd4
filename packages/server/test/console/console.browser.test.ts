import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type DeliveryItem, WalletBackendClient } from '@wallet-backend/sdk'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import type { Hex } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/chain/node/spawnAnvil.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { type BackendProcess, backendProcess } from '../support/backendProcess.js'
import { deployTransferEmitter, sendTransfer } from '../support/chainActivity.js'
import { waitUntil } from '../support/waitUntil.js'

const CHROMIUM = '/usr/bin/chromium'
const chromiumMissing = !existsSync(CHROMIUM)
/** Where the test leaves its screenshots (gitignored); docs/console.png is the latest one, committed. */
const SCREENSHOTS = fileURLToPath(new URL('./screenshots/', import.meta.url))
const SCREENSHOTS_LOG = SCREENSHOTS

describe.skipIf(chromiumMissing)(
  `the operator console in headless Chromium${chromiumMissing ? ` — skipped: ${CHROMIUM} is not installed (npm run browser:install installs it as root)` : ''}`,
  () => {
    let anvil: TestAnvil
    let dataDir: string
    let profileDir: string
    let backend: BackendProcess
    let browser: BrowserContext
    let adminToken: string
    let token: Hex
    let accounts: Hex[]
    let traffic: Promise<void> | undefined
    let trafficOn = false

    /** Transfers every few hundred milliseconds, so the chain advances and items flow while the page looks. */
    const startTraffic = () => {
      trafficOn = true
      traffic = (async () => {
        let amount = 1n
        while (trafficOn) {
          await sendTransfer(anvil, token, accounts[0]!, accounts[1]!, amount++).catch(() => {})
          await new Promise((resolve) => setTimeout(resolve, 300))
        }
      })()
    }
    const stopTraffic = async () => {
      trafficOn = false
      await traffic
    }
    const headOnPage = async (page: Page) =>
      Number((await page.textContent('#head-number'))?.split(' ')[0]?.replaceAll(',', ''))

    beforeAll(async () => {
      anvil = await startAnvil()
      accounts = (await anvil.accounts()) as Hex[]
      token = await deployTransferEmitter(anvil)
      dataDir = mkdtempSync(join(tmpdir(), 'wb-console-'))
      profileDir = mkdtempSync(join(tmpdir(), 'wb-console-chromium-'))
      // Gitignored, so absent from a fresh clone: the backend's log goes there too.
      mkdirSync(SCREENSHOTS, { recursive: true })
      backend = backendProcess({
        dataDir,
        port: await freePort(),
        nodeUrl: anvil.node.wsUrl,
        flags: ['--registration-pow-bits', '0', '--poll-interval-ms', '50', '--log-level', 'info'],
        readyTimeoutMs: 180_000,
        logFile: join(SCREENSHOTS_LOG, 'backend.log'),
      })
      await backend.start()
      adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()
      // A fresh profile of its own (playwright takes it as launchPersistentContext's directory).
      browser = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        viewport: { width: 1440, height: 1000 },
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      // Bounds, not expectations: a loaded machine takes its time to start a backend from sources.
    }, 300_000)

    afterAll(async () => {
      await stopTraffic()
      await browser?.close()
      await backend?.kill()
      await anvil?.stop()
      for (const dir of [dataDir, profileDir]) if (dir) rmSync(dir, { recursive: true, force: true })
    })

    it('refuses a wrong token, then shows the chain advancing, finds a client, makes it dormant (it gets a gap when back), and survives a backend restart', async () => {
      const client = new WalletBackendClient({
        url: backend.url,
        account: privateKeyToAccount(generatePrivateKey()),
      })
      await client.signIn()
      await client.putInterest(token, { filters: [{ code: 'all', args: [] }] })
      startTraffic()
      // Some clients more, so that finding one takes the search.
      for (let i = 0; i < 3; i++)
        await new WalletBackendClient({
          url: backend.url,
          account: privateKeyToAccount(generatePrivateKey()),
        }).signIn()

      const page = await browser.newPage()
      const pageErrors: string[] = []
      page.on('pageerror', (error) => pageErrors.push(error.message))
      const requested: string[] = []
      page.on('request', (request) => requested.push(request.url()))
      await page.goto(`${backend.url}/console`)

      // A wrong token is refused and nothing of the dashboard shows.
      await page.fill('#token', 'not-the-admin-token')
      await page.click('#sign-in-form button[type=submit]')
      await page.waitForSelector('#sign-in-error:not([hidden])')
      expect(await page.textContent('#sign-in-error')).toContain('refused')
      expect(await page.isHidden('#dashboard')).toBe(true)

      await page.fill('#token', adminToken)
      await page.click('#sign-in-form button[type=submit]')
      await page.waitForSelector('#dashboard:not([hidden])')
      expect(await page.evaluate(() => sessionStorage.length)).toBe(1)
      await page.waitForFunction(() => document.getElementById('state')?.textContent === 'live', null, {
        timeout: 30_000,
      })

      // The chain advances on the page.
      await page.waitForSelector('#head-number')
      const firstHead = await headOnPage(page)
      await page.waitForFunction(
        (before) =>
          Number(document.getElementById('head-number')?.textContent?.split(' ')[0]?.replaceAll(',', '')) >
          before,
        firstHead,
        { timeout: 30_000 },
      )

      // Find the client by a prefix of its id, open it, make it dormant behind the confirmation.
      await page.fill('#client-search', client.clientId.slice(0, 12))
      const row = `#clients tr[data-client="${client.clientId.toLowerCase()}"]`
      // The list narrows to that one client once the search has run.
      await page.waitForFunction(
        (id) => {
          const rows = Array.from(document.querySelectorAll<HTMLElement>('#clients tr[data-client]'))
          return rows.length === 1 && rows[0]!.dataset.client === id
        },
        client.clientId.toLowerCase(),
        { timeout: 30_000 },
      )
      await page.click(row)
      await page.waitForSelector('#client-detail:not([hidden]) #make-dormant')
      await page.waitForSelector(`#client-detail .interest >> text=${token.toLowerCase()}`, {
        timeout: 30_000,
      })
      await page.click('#make-dormant')
      await page.waitForSelector('dialog#confirm[open]')
      await page.click('#confirm-ok')
      await page.waitForFunction(
        () => document.getElementById('detail-stage')?.textContent === 'dormant',
        null,
        {
          timeout: 30_000,
        },
      )
      const stage = await (
        await fetch(`${backend.url}/admin/clients/${client.clientId}`, {
          headers: { authorization: `Bearer ${adminToken}` },
        })
      ).json()
      expect(stage.stage).toBe('dormant')

      // While it is away the chain moves on; when it is back it gets a gap for what it missed.
      const headAtDormant = await anvil.blockNumber()
      await waitUntil(
        async () => (await anvil.blockNumber()) > headAtDormant + 1,
        30_000,
        'blocks while dormant',
      )
      await client.signIn()
      let gap: DeliveryItem | undefined
      await waitUntil(
        async () => {
          gap = (await client.deliveries({ after: 0, limit: 1000 })).items.find((item) => item.kind === 'gap')
          return gap !== undefined
        },
        30_000,
        'a gap item',
      )
      // It covers the blocks mined while the client was dormant.
      const { fromBlock, toBlock } = gap!.data as { fromBlock: number; toBlock: number }
      expect(fromBlock).toBeLessThanOrEqual(headAtDormant + 1)
      expect(toBlock).toBeGreaterThan(headAtDormant)

      // The charts have data; the screenshot is of the page at work.
      await page.waitForFunction(
        () => (document.querySelector('#chart-items svg path')?.getAttribute('d')?.length ?? 0) > 20,
        null,
        { timeout: 60_000 },
      )
      await page.screenshot({ path: join(SCREENSHOTS, 'console.png'), fullPage: true })

      // A backend restart: the page says it cannot reach it, and carries on once it is back. The
      // measure is a block above the last one shown before the stop: right after its restart the
      // backend answers before it has a head, and the page then shows none ('–').
      const beforeStop = await headOnPage(page)
      expect(Number.isFinite(beforeStop)).toBe(true)
      await backend.stop()
      await page.waitForSelector('#banner:not([hidden])', { timeout: 30_000 })
      await page.screenshot({ path: join(SCREENSHOTS, 'console-backend-down.png') })
      await backend.start()
      await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: 60_000 })
      await page.waitForFunction(
        (before) =>
          document.getElementById('state')?.textContent === 'live' &&
          Number(document.getElementById('head-number')?.textContent?.split(' ')[0]?.replaceAll(',', '')) >
            before,
        beforeStop,
        { timeout: 60_000 },
      )
      expect(await page.isVisible('#dashboard')).toBe(true)

      // The token never travels in a URL, and nothing came from anywhere but the backend.
      expect(requested.filter((url) => url.includes(adminToken))).toEqual([])
      expect(requested.filter((url) => !url.startsWith(backend.url))).toEqual([])
      expect(pageErrors).toEqual([])
      await stopTraffic()
    }, 400_000)
  },
)
