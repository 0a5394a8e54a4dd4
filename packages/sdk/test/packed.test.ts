import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type Browser, chromium } from 'playwright-core'
import type { Hex } from 'viem'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deployTransferEmitter, sendTransfer } from '../../server/test/support/chainActivity.js'
import { waitUntil } from '../../server/test/support/waitUntil.js'
import { freshAddress, type LiveBackend, startLiveBackend } from './support/liveBackend.js'

// The packages as a wallet app gets them: `npm pack` tarballs installed into a project outside the
// workspace, used from plain Node and type-checked as TypeScript. Needs `npm run build` first.
const run = promisify(execFile)
const root = fileURLToPath(new URL('../../../', import.meta.url))
const PACKAGES = ['wallet-state', 'sdk', 'server']
let live: LiveBackend
let consumer: string
const children: ChildProcess[] = []

beforeAll(async () => {
  const unbuilt = PACKAGES.filter((name) => !existsSync(join(root, 'packages', name, 'dist')))
  if (unbuilt.length > 0) throw new Error(`not built (${unbuilt.join(', ')}): run "npm run build" first`)
  consumer = mkdtempSync(join(tmpdir(), 'wb-consumer-'))
  const { stdout } = await run(
    'npm',
    [
      'pack',
      '--json',
      '--pack-destination',
      consumer,
      '-w',
      '@wallet-backend/wallet-state',
      '-w',
      '@wallet-backend/sdk',
    ],
    { cwd: root },
  )
  const tarballs = (JSON.parse(stdout) as { name: string; filename: string }[]).map(({ name, filename }) => [
    name,
    `file:./${filename}`,
  ])
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(tarballs),
    }),
  )
  // Only the tarballs and their registry dependencies (from npm's cache when it has them).
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], {
    cwd: consumer,
  })
  cpSync(join(root, 'examples/node-wallet/wallet.mjs'), join(consumer, 'wallet.mjs'))
  live = await startLiveBackend([], { compiled: true })
}, 300_000)

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL')
  await live?.stop()
  if (consumer) rmSync(consumer, { recursive: true, force: true })
})

/** Runs the example wallet in the consumer project; resolves with its JSON lines once it exits. */
function wallet(env: Record<string, string>, onLine: (line: Record<string, unknown>) => void = () => {}) {
  const child = spawn(process.execPath, ['wallet.mjs'], {
    cwd: consumer,
    env: { PATH: process.env.PATH, WALLET_BACKEND_URL: live.backend.url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  const lines: Record<string, unknown>[] = []
  let stderr = ''
  let pending = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString()
    const complete = pending.split('\n')
    pending = complete.pop()!
    for (const text of complete) {
      const line = JSON.parse(text) as Record<string, unknown>
      lines.push(line)
      onLine(line)
    }
  })
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<Record<string, unknown>[]>((resolve, reject) =>
    child.once('exit', (code) =>
      code === 0 ? resolve(lines) : reject(new Error(`the wallet exited with ${code}: ${stderr}`)),
    ),
  )
  return { child, lines, exited }
}

describe('the packed SDK and wallet-state in a project of their own', () => {
  it('installs from the tarballs alone, with compiled code and its types, and no sources needed', () => {
    for (const name of ['sdk', 'wallet-state']) {
      const installed = join(consumer, 'node_modules/@wallet-backend', name)
      const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
      expect(manifest.exports['.'].types).toBe('./dist/index.d.ts')
      expect(existsSync(join(installed, 'dist/index.js'))).toBe(true)
      expect(existsSync(join(installed, 'dist/index.d.ts'))).toBe(true)
      expect(existsSync(join(installed, 'dist/index.js.map'))).toBe(true)
    }
    // The SDK brings the WebSocket it needs on Node 20.
    expect(existsSync(join(consumer, 'node_modules/ws/package.json'))).toBe(true)
  })

  it("the README's Node snippet is the example wallet run here, verbatim", () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const example = readFileSync(join(root, 'examples/node-wallet/wallet.mjs'), 'utf8')
    expect(readme).toContain(`\`\`\`js\n${example}\`\`\``)
  })

  it('a plain Node ESM wallet signs in, registers an interest, streams, acks, verifies a proof and syncs wallet state', async () => {
    const watched = freshAddress()
    const env = { WATCH_ADDRESS: watched, CLIENT_KEY: generatePrivateKey(), STOP_AFTER_ITEMS: '1' }
    let ready = false
    const first = wallet({ ...env, DEVICE: 'one' }, (line) => {
      if (line.event === 'ready') ready = true
    })
    await waitUntil(() => ready, 60_000, 'the wallet to be ready')
    const txHash = await live.transfer(watched)
    const lines = await first.exited
    expect(lines[0]).toEqual({ event: 'ready', credentials: ['device-one'] })
    const item = lines.find((line) => line.event === 'item')
    expect(item).toMatchObject({ kind: 'tx', txHash })
    expect(item?.verifiedBlock).toMatch(/^0x[0-9a-f]{64}$/)
    expect(lines.at(-1)).toEqual({ event: 'acked', cursor: item?.cursor })
    // A second device of the same wallet finds the first one's state and adds to it; nothing new
    // is delivered to it, since the first acknowledged the item.
    const second = wallet({ ...env, DEVICE: 'two' })
    // It streams until stopped: stopped here, once it has said what it found.
    second.exited.catch(() => {})
    await waitUntil(() => second.lines.length > 0, 60_000, 'the second device to be ready')
    second.child.kill()
    expect(second.lines[0]).toEqual({ event: 'ready', credentials: ['device-one', 'device-two'] })
  }, 180_000)

  it('a TypeScript consumer type-checks against the shipped types, and a misuse of them is an error', async () => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    const project = join(consumer, 'ts')
    mkdirSync(project, { recursive: true })
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023', 'DOM'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        include: ['*.ts'],
      }),
    )
    writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module' }))
    writeFileSync(
      join(project, 'wallet.ts'),
      `import { type DeliveryItem, StreamError, WalletBackendClient, WalletBackendError } from '@wallet-backend/sdk'
import { verifyReceiptProof } from '@wallet-backend/sdk/verify'
import { createContainer, type WalletStateContainer } from '@wallet-backend/wallet-state'
import { privateKeyToAccount } from 'viem/accounts'

const client = new WalletBackendClient({ url: 'http://127.0.0.1:8080', account: privateKeyToAccount('0x${'11'.repeat(32)}') })
const stream = client.stream({
  onItem: (item: DeliveryItem) => stream.ack(item.cursor),
  onAcked: (cursor: number) => cursor,
  onError: (error) => (error instanceof StreamError ? error.code : error.message),
})
const acked: number = stream.ackedCursor
const retry = (error: WalletBackendError): number | undefined => error.retryAfterSeconds
const container: WalletStateContainer = createContainer()
export { acked, container, retry, verifyReceiptProof }
`,
    )
    writeFileSync(
      join(project, 'misuse.ts'),
      `import { WalletBackendClient } from '@wallet-backend/sdk'
export const url: number = new WalletBackendClient({ url: 'x', account: undefined as never }).url
`,
    )
    const failed = await run(process.execPath, [tsc, '-p', project], { cwd: project }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    )
    // One run for both files: the only error is the misuse (wallet.ts checks clean).
    const errors = failed.split('\n').filter((line) => line.includes('error TS'))
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^misuse\.ts.*TS2322: Type 'string' is not assignable to type 'number'/)
  })
})

const CHROMIUM = '/usr/bin/chromium'
const chromiumMissing = !existsSync(CHROMIUM)

describe.skipIf(chromiumMissing)(
  `the browser wallet example in headless Chromium${chromiumMissing ? ` — skipped: ${CHROMIUM} is not installed (npm run browser:install installs it as root)` : ''}`,
  () => {
    let server: Server
    let pageUrl: string
    let browser: Browser

    beforeAll(async () => {
      // Bundled from the installed tarballs, like any app would: no CDN, nothing fetched at run time.
      const app = join(consumer, 'browser-wallet')
      mkdirSync(app)
      for (const file of ['package.json', 'index.html', 'wallet.js', 'pow-worker.js'])
        cpSync(join(root, 'examples/browser-wallet', file), join(app, file))
      await run('npm', ['run', 'build'], {
        cwd: app,
        env: { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
      })
      server = await serveStatic(app)
      pageUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/index.html`
      browser = await chromium.launch({
        executablePath: CHROMIUM,
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
    }, 120_000)

    afterAll(async () => {
      await browser?.close()
      server?.close()
    })

    it("signs in with proof of work in a worker, streams a token's items across a backend restart, proves them, and syncs wallet state between two contexts", async () => {
      const token = await deployTransferEmitter(live.anvil)
      const [from, to] = (await live.anvil.accounts()) as [Hex, Hex]
      const wallet = `?backend=${encodeURIComponent(live.backend.url)}&key=${generatePrivateKey()}&secret=shared-by-both-devices`
      const laptop = await (await browser.newContext()).newPage()
      const pageErrors: string[] = []
      laptop.on('pageerror', (error) => pageErrors.push(error.message))
      await laptop.goto(`${pageUrl}${wallet}`)
      await laptop.waitForSelector('#status.ok', { timeout: 60_000 })
      expect(await laptop.textContent('#status')).toBe('signed in, registered')
      await laptop.fill('#token', token)
      await laptop.click('#watch')
      await laptop.waitForSelector('#stream-state.ok', { timeout: 30_000 })
      await sendTransfer(live.anvil, token, from, to, 5n)
      // The transfer's transaction and its Transfer log, each proven against its block header.
      await laptop.waitForFunction(() => document.querySelectorAll('#items li.verified').length >= 2, null, {
        timeout: 30_000,
      })
      expect(await laptop.$$eval('#items li', (items) => items.map((item) => item.dataset.kind))).toEqual([
        'tx',
        'log',
      ])

      // The backend restarts; the page's stream reconnects by itself and carries on.
      await live.backend.stop()
      await laptop.waitForSelector('#stream-state.bad', { timeout: 30_000 })
      await live.backend.start()
      await laptop.waitForSelector('#stream-state.ok', { timeout: 60_000 })
      await sendTransfer(live.anvil, token, from, to, 7n)
      await laptop.waitForFunction(() => document.querySelectorAll('#items li.verified').length >= 4, null, {
        timeout: 30_000,
      })
      const cursors = await laptop.$$eval('#items li', (items) => items.map((item) => item.textContent))
      await laptop.waitForFunction(
        (last) => document.getElementById('acked')?.textContent === last,
        /^#(\d+)/.exec(cursors.at(-1) ?? '')?.[1],
        { timeout: 30_000 },
      )

      // Wallet state: the laptop adds a credential, the phone (another context) sees it and adds
      // its own, and the laptop sees both after a sync.
      await laptop.fill('#label', 'laptop-passkey')
      await laptop.click('#add')
      await laptop.waitForSelector('#credentials li >> text=laptop-passkey', { timeout: 30_000 })
      const phone = await (await browser.newContext()).newPage()
      phone.on('pageerror', (error) => pageErrors.push(error.message))
      await phone.goto(`${pageUrl}${wallet}`)
      await phone.waitForSelector('#credentials li >> text=laptop-passkey', { timeout: 60_000 })
      await phone.fill('#label', 'phone-passkey')
      await phone.click('#add')
      await phone.waitForSelector('#credentials li >> text=phone-passkey', { timeout: 30_000 })
      await laptop.click('#refresh')
      await laptop.waitForSelector('#credentials li >> text=phone-passkey', { timeout: 30_000 })
      expect(
        await laptop.$$eval('#credentials li', (items) => items.map((item) => item.textContent)),
      ).toEqual(['laptop-passkey', 'phone-passkey'])
      expect(pageErrors).toEqual([])
      await laptop.screenshot({
        path: process.env.BROWSER_WALLET_SCREENSHOT ?? join(consumer, 'browser-wallet.png'),
        fullPage: true,
      })
    }, 300_000)
  },
)

/** Serves a directory's files over HTTP on a free port (the page and its bundle). */
async function serveStatic(dir: string): Promise<Server> {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.map': 'application/json',
  }
  const server = createServer((request, response) => {
    const path = join(dir, new URL(request.url ?? '/', 'http://x').pathname)
    if (!path.startsWith(dir) || !existsSync(path)) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' })
    response.end(readFileSync(path))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}
