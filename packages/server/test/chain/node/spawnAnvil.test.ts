import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { Hex } from 'viem'
import { afterEach, describe, expect, it } from 'vitest'
import { findAnvilBinary } from '../../../src/chain/node/findAnvilBinary.js'
import { freePort } from '../../../src/chain/node/freePort.js'
import { AnvilStateError } from '../../../src/chain/node/recoverAnvilState.js'
import { AnvilStartError, spawnAnvil } from '../../../src/chain/node/spawnAnvil.js'
import { RpcResponseError } from '../../../src/chain/rpc/errors.js'
import { startAnvil, type TestAnvil } from '../../support/anvil.js'

const dirs: string[] = []
const running: TestAnvil[] = []
afterEach(async () => {
  for (const anvil of running.splice(0)) await anvil.stop()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wb-node-'))
  dirs.push(dir)
  return dir
}

async function anvilIn(dataDir: string, options: Parameters<typeof startAnvil>[0] = {}): Promise<TestAnvil> {
  const anvil = await startAnvil({ dataDir, stateIntervalSeconds: 0, ...options })
  running.push(anvil)
  return anvil
}

async function stopped(anvil: TestAnvil): Promise<void> {
  running.splice(running.indexOf(anvil), 1)
  await anvil.stop()
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie still answers signal 0; on Linux its state says it is gone.
  if (process.platform === 'linux' && existsSync(`/proc/${pid}/stat`)) {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  }
  return true
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** A contract whose runtime emits one empty LOG0 per call; its creation code copies it into place. */
const LOGGER_INIT = '0x6006600c60003960066000f360006000a000'

/** Mines a block with a contract creation, a call that logs, and a value transfer. */
async function someActivity(anvil: TestAnvil): Promise<{ call: Hex; transfer: Hex }> {
  const [from, to] = await anvil.accounts()
  await anvil.rpc('evm_setAutomine', [false])
  const create = await anvil.rpc<Hex>('eth_sendTransaction', [{ from, data: LOGGER_INIT }])
  await anvil.mine(1)
  const { contractAddress } = await anvil.rpc<{ contractAddress: Hex }>('eth_getTransactionReceipt', [create])
  const call = await anvil.rpc<Hex>('eth_sendTransaction', [{ from, to: contractAddress }])
  const transfer = await anvil.rpc<Hex>('eth_sendTransaction', [{ from, to, value: '0x1' }])
  await anvil.mine(1)
  await anvil.rpc('evm_setAutomine', [true])
  return { call, transfer }
}

describe('spawnAnvil', () => {
  it('starts anvil on a free port, answering over HTTP and WebSocket', async () => {
    const started = performance.now()
    const anvil = await anvilIn(tempDir())
    const ms = performance.now() - started
    expect(anvil.node.httpUrl).toBe(`http://127.0.0.1:${anvil.node.port}`)
    expect(anvil.node.wsUrl).toBe(`ws://127.0.0.1:${anvil.node.port}`)
    expect(isAlive(anvil.node.pid)).toBe(true)
    expect(await anvil.rpc('eth_chainId')).toBe('0x7a69')
    expect(ms).toBeLessThan(5_000)
  })

  it('uses the chain id it is given', async () => {
    const anvil = await anvilIn(tempDir(), { chainId: 999 })
    expect(await anvil.rpc('eth_chainId')).toBe('0x3e7')
  })

  it('continues the same chain after a stop and a new spawn: blocks, transactions, receipts, logs, balances', async () => {
    const dataDir = tempDir()
    const first = await anvilIn(dataDir)
    await first.mine(3)
    const { call, transfer } = await someActivity(first)
    await first.mine(2)
    const [, to] = await first.accounts()
    const before = {
      head: await first.blockNumber(),
      block3: (await first.block(3)).hash,
      latest: (await first.block('latest')).hash,
      balance: await first.rpc('eth_getBalance', [to, 'latest']),
      receipt: await first.rpc<{ blockHash: Hex; logs: unknown[] }>('eth_getTransactionReceipt', [call]),
    }
    expect(before.receipt.logs).toHaveLength(1)
    // No periodic save here (interval 0): what survives was written on the way out.
    await stopped(first)
    expect(existsSync(join(dataDir, 'state.json'))).toBe(true)
    expect(existsSync(join(dataDir, 'state.exit.json'))).toBe(false)
    expect(existsSync(join(dataDir, 'anvil.pid'))).toBe(false)

    const second = await anvilIn(dataDir)
    expect(await second.blockNumber()).toBe(before.head)
    expect((await second.block(3)).hash).toBe(before.block3)
    expect((await second.block('latest')).hash).toBe(before.latest)
    expect(await second.rpc('eth_getBalance', [to, 'latest'])).toBe(before.balance)
    expect(await second.rpc('eth_getTransactionReceipt', [call])).toEqual(before.receipt)
    expect(await second.rpc<{ blockHash: Hex }>('eth_getTransactionByHash', [transfer])).toMatchObject({
      blockHash: before.receipt.blockHash,
    })
    const logs = await second.rpc<unknown[]>('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }])
    expect(logs).toHaveLength(1)
    // New blocks extend the old chain.
    await second.mine(1)
    expect((await second.block('latest')).parentHash).toBe(before.latest)
  })

  it('does not keep the state of past blocks across a restart by default', async () => {
    const dataDir = tempDir()
    const first = await anvilIn(dataDir)
    await first.mine(5)
    const [, to] = await first.accounts()
    await stopped(first)
    const second = await anvilIn(dataDir)
    const past = await second.rpc('eth_getBalance', [to, '0x2']).catch((error: unknown) => error)
    expect(past).toBeInstanceOf(RpcResponseError)
    expect((past as RpcResponseError).rpcMessage).toMatch(/BlockOutOfRangeError/)
    // A reorg reaching below the restart needs that state too.
    await expect(second.reorg(2)).rejects.toThrow(/Required data unavailable/)
    // Blocks mined after the restart have their state as usual.
    await second.mine(3)
    await second.reorg(2)
  })

  it('keeps the state of past blocks with preserveHistoricalStates, so reorgs reach below a restart', async () => {
    const dataDir = tempDir()
    const first = await anvilIn(dataDir, { preserveHistoricalStates: true })
    await first.mine(5)
    const [, to] = await first.accounts()
    const balanceAt2 = await first.rpc('eth_getBalance', [to, '0x2'])
    const block4 = (await first.block(4)).hash
    await stopped(first)
    const second = await anvilIn(dataDir, { preserveHistoricalStates: true })
    expect(await second.rpc('eth_getBalance', [to, '0x2'])).toBe(balanceAt2)
    await second.reorg(3)
    expect(await second.blockNumber()).toBe(5)
    expect((await second.block(4)).hash).not.toBe(block4)
  })

  it('after a crash, continues from the last saved state', async () => {
    const dataDir = tempDir()
    const first = await anvilIn(dataDir)
    await first.mine(4)
    await first.node.saveState()
    const saved = await first.block('latest')
    await first.mine(3)
    await first.kill()
    expect(isAlive(first.node.pid)).toBe(false)
    const second = await anvilIn(dataDir)
    expect(await second.block('latest')).toEqual(saved)
  })

  it('a save asked for while another is in flight holds the blocks mined before it was asked for', async () => {
    const dataDir = tempDir()
    const first = await anvilIn(dataDir)
    await first.mine(2)
    const earlier = first.node.saveState()
    await first.mine(3)
    await first.node.saveState()
    await earlier
    const saved = await first.block('latest')
    await first.kill()
    const second = await anvilIn(dataDir)
    expect(await second.block('latest')).toEqual(saved)
  })

  it('saves the state periodically while it runs', async () => {
    const dataDir = tempDir()
    const anvil = await anvilIn(dataDir, { stateIntervalSeconds: 0.2 })
    await anvil.mine(2)
    const state = join(dataDir, 'state.json')
    await until(
      () => existsSync(state) && JSON.parse(readFileSync(state, 'utf8')).best_block_number >= 2,
      'a save',
    )
    const savedAt = statSync(state).mtimeMs
    await anvil.mine(1)
    await until(() => statSync(state).mtimeMs > savedAt, 'another save', 3_000)
  })

  it('sets aside an exit dump cut off by a crash and loads the last complete state', async () => {
    const dataDir = tempDir()
    const first = await anvilIn(dataDir)
    await first.mine(2)
    await first.node.saveState()
    const saved = await first.block('latest')
    await first.kill()
    // What anvil leaves when it dies in the middle of writing its dump on exit.
    const state = readFileSync(join(dataDir, 'state.json'), 'utf8')
    writeFileSync(join(dataDir, 'state.exit.json'), state.slice(0, Math.floor(state.length / 2)))
    const second = await anvilIn(dataDir)
    expect(await second.block('latest')).toEqual(saved)
    expect(existsSync(join(dataDir, 'state.exit.json.torn'))).toBe(true)
  })

  it('refuses to start over an incomplete state file instead of starting a new chain', async () => {
    const dataDir = tempDir()
    writeFileSync(join(dataDir, 'state.json'), '{"block":{"number":"0x5","coinbase":')
    const error = await spawnAnvil({ dataDir }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AnvilStateError)
    expect((error as AnvilStateError).code).toBe('ANVIL_STATE_INCOMPLETE')
    expect((error as Error).message).toContain(join(dataDir, 'state.json'))
  })

  it("fails with anvil's own words when it cannot start", async () => {
    const blocker = createServer()
    const port = await freePort()
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve))
    try {
      const error = await spawnAnvil({ dataDir: tempDir(), port }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(AnvilStartError)
      expect((error as Error).message).toMatch(
        /anvil exited at start .*anvil said:\n.*Address already in use/s,
      )
    } finally {
      blocker.close()
    }
  })

  it('leaves no process behind when stopped or killed', async () => {
    const gently = await anvilIn(tempDir())
    await stopped(gently)
    expect(isAlive(gently.node.pid)).toBe(false)
    const abruptly = await anvilIn(tempDir())
    await abruptly.kill()
    expect(isAlive(abruptly.node.pid)).toBe(false)
  })

  it('logs an exit on a stop signal of its own (Ctrl-C reaches the process group) at info, a crash as an error', async () => {
    const lines: { level: number; msg: string }[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) })
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
      const node = await spawnAnvil({ dataDir: tempDir(), logger, stateIntervalSeconds: 0 })
      process.kill(node.pid, signal)
      await node.exited
      await node.stop().catch(() => {})
    }
    expect(lines.filter((line) => line.msg === 'anvil stopped by a signal of its own')).toHaveLength(2)
    expect(lines.filter((line) => line.msg === 'anvil exited').map((line) => line.level)).toEqual([50])
  })

  it('stops an anvil that outlived the backend which started it, and takes over its state', async () => {
    const dataDir = tempDir()
    // Made by hand as an earlier run would have: same files, then that run is gone.
    const port = await freePort()
    const executable = findAnvilBinary()
    const orphan = spawn(
      executable.command,
      [
        ...executable.args,
        '--port',
        String(port),
        '--silent',
        '--dump-state',
        join(dataDir, 'state.exit.json'),
      ],
      { stdio: 'ignore', detached: true },
    )
    orphan.unref()
    writeFileSync(join(dataDir, 'anvil.pid'), JSON.stringify({ pid: orphan.pid, port }))
    const orphanRpc = async (method: string, params: unknown[] = []) => {
      const response = await fetch(`http://127.0.0.1:${port}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      })
      return ((await response.json()) as { result: unknown }).result
    }
    const deadline = Date.now() + 10_000
    while (!(await orphanRpc('eth_chainId').catch(() => undefined))) {
      if (Date.now() > deadline) throw new Error('the orphan did not start')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await orphanRpc('anvil_mine', ['0x7'])
    try {
      const anvil = await anvilIn(dataDir)
      expect(isAlive(orphan.pid!)).toBe(false)
      expect(await anvil.blockNumber()).toBe(7)
    } finally {
      if (isAlive(orphan.pid!)) process.kill(orphan.pid!, 'SIGKILL')
    }
  })

  it.skipIf(process.platform !== 'linux')(
    'takes anvil down with a backend that is killed with SIGKILL',
    async () => {
      const dataDir = tempDir()
      const script = `
      import { spawnAnvil } from ${JSON.stringify(new URL('../../../src/chain/node/spawnAnvil.ts', import.meta.url).href)}
      const anvil = await spawnAnvil({ dataDir: ${JSON.stringify(dataDir)}, stateIntervalSeconds: 0 })
      await fetch(anvil.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'anvil_mine', params: ['0x3'] }) })
      console.log(anvil.pid)
      setInterval(() => {}, 1000)
    `
      const backend = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        cwd: new URL('../../..', import.meta.url).pathname,
      })
      const pid = await new Promise<number>((resolve, reject) => {
        backend.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())))
        backend.once('exit', (code) => reject(new Error(`the backend exited with ${code}`)))
      })
      expect(isAlive(pid)).toBe(true)
      backend.kill('SIGKILL')
      await until(() => !isAlive(pid), 'anvil to follow its parent', 5_000)
      // It was told with SIGTERM, so it wrote its state, which the next start takes over.
      const anvil = await anvilIn(dataDir)
      expect(await anvil.blockNumber()).toBe(3)
    },
  )
})

describe('test anvil', () => {
  it('snapshots and reverts, reorgs with transactions, restarts on the same port', async () => {
    const anvil = await startAnvil()
    running.push(anvil)
    await anvil.mine(2)
    const snapshot = await anvil.snapshot()
    await anvil.mine(3)
    expect(await anvil.blockNumber()).toBe(5)
    expect(await anvil.revert(snapshot)).toBe(true)
    expect(await anvil.blockNumber()).toBe(2)

    const [from, to] = await anvil.accounts()
    const nonce = await anvil.rpc<Hex>('eth_getTransactionCount', [from, 'latest'])
    const signed = await anvil.rpc<{ raw: Hex }>('eth_signTransaction', [
      { from, to, value: '0x2a', nonce, gas: '0x5208', gasPrice: '0x3b9aca00', chainId: '0x7a69' },
    ])
    const replaced = (await anvil.block(2)).hash
    await anvil.reorg(1, [[typeof signed === 'string' ? signed : signed.raw, 0]])
    const block2 = await anvil.block(2)
    expect(block2.hash).not.toBe(replaced)
    expect(block2.transactions).toHaveLength(1)

    const port = anvil.node.port
    await anvil.restart()
    expect(anvil.node.port).toBe(port)
    expect((await anvil.block(2)).hash).toBe(block2.hash)
  })
})
