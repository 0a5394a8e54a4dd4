import type { Hex } from 'viem'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { RpcClient } from '../../src/chain/rpc/RpcClient.js'
import { readCalls } from '../../src/contract-state/readWatchedState.js'
import { startAnvil, type TestAnvil } from '../support/anvil.js'
import { deploy, GET_SELECTOR, STORE_INIT } from '../support/chainActivity.js'

let anvil: TestAnvil
let rpc: RpcClient

beforeAll(async () => {
  anvil = await startAnvil()
  rpc = new RpcClient({ urls: [anvil.node.httpUrl], timeoutMs: 10_000 })
})

afterAll(async () => {
  await rpc?.close()
  await anvil?.stop()
})

// anvil answers a read at its newest block from the live state that mining the next block changes:
// before readCalls checked the node's head afterwards, about 1 call in 100 here held the next
// block's value.
it('a view call at the node’s newest block answers for that block while the next one is mined', async () => {
  const [from] = await anvil.accounts()
  const store = await deploy(anvil, STORE_INIT)
  let writing = true
  const writes = (async () => {
    for (let i = 1; i <= 300; i++) {
      const data = `0x${i.toString(16).padStart(64, '0')}`
      await anvil.rpc('eth_sendTransaction', [{ from, to: store, data }])
    }
  })().finally(() => {
    writing = false
  })
  const read: { number: number; result: Hex }[] = []
  const readers = Array.from({ length: 4 }, async () => {
    while (writing) {
      const head = await anvil.block('latest')
      const request = {
        address: store,
        data: GET_SELECTOR as Hex,
        blockHash: head.hash,
        blockNumber: Number(head.number),
      }
      const [answer] = await readCalls(rpc, [request])
      if (answer && 'result' in answer) read.push({ number: request.blockNumber, result: answer.result })
    }
  })
  await Promise.all([writes, ...readers])
  expect(read.length).toBeGreaterThan(200)
  const truth = await Promise.all(
    read.map(({ number }) => anvil.rpc<Hex>('eth_getStorageAt', [store, '0x0', `0x${number.toString(16)}`])),
  )
  const wrong = read.filter((r, i) => BigInt(r.result) !== BigInt(truth[i]!))
  expect(wrong).toEqual([])
}, 120_000)
