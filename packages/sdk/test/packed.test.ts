import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generatePrivateKey } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
  })

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
