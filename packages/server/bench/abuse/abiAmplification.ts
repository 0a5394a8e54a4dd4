import { type Attack, describeLoad } from './harness.js'
import { randomAddress } from './randomAddress.js'

/** 500 functions of 12 inputs each: about 230 KB of JSON. */
const largeAbi = () =>
  Array.from({ length: 500 }, (_, f) => ({
    type: 'function',
    name: `f${f}`,
    stateMutability: 'nonpayable',
    inputs: Array.from({ length: 12 }, (_, i) => ({
      name: `argument${i}`,
      type: i % 2 ? 'uint256' : 'address',
    })),
    outputs: [],
  }))

/** Sends `count` transactions to `to` with calldata 0xdeadbeef, mined in as few blocks as fit. */
export async function sendCalls(
  env: Parameters<Attack['start']>[0],
  to: string,
  count: number,
): Promise<void> {
  const [from] = await env.anvil.accounts()
  const first = Number(await env.anvil.rpc<string>('eth_getTransactionCount', [from, 'pending']))
  await env.anvil.rpc('evm_setAutomine', [false])
  try {
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, j) =>
          env.anvil.rpc('eth_sendTransaction', [
            { from, to, data: '0xdeadbeef', gas: '0x7530', nonce: `0x${(first + i + j).toString(16)}` },
          ]),
        ),
      )
    }
    await env.anvil.mine(1)
  } finally {
    await env.anvil.rpc('evm_setAutomine', [true])
  }
}

/**
 * An interest with a large ABI and filter `all`, 1,000 transactions to its contract, and the
 * attacker paging through its deliveries with limit=1000, two pages in flight, from 127.0.1.2.
 */
export const abiAmplification: Attack = {
  name: 'ABI amplification (230 KB ABI, 1,000 items, pages of 1,000)',
  start: async (env) => {
    const token = await env.signIn()
    const contract = randomAddress()
    const abi = largeAbi()
    const put = await env.call('PUT', `/v1/interests/${contract}`, token, {
      filters: [{ code: 'all', args: [] }],
      abi,
    })
    // Where the ABI is refused, the attacker pages through the same items without it.
    const setup =
      put.status === 200 || put.status === 201
        ? 'ABI accepted'
        : `ABI refused (${put.status} ${put.json?.code})`
    if (!setup.startsWith('ABI accepted')) {
      await env.call('PUT', `/v1/interests/${contract}`, token, { filters: [{ code: 'all', args: [] }] })
    }
    await sendCalls(env, contract, 1_000)
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      const usage = await env.call('GET', '/v1/usage', token)
      if ((usage.json?.usage?.itemsQueued ?? 0) >= 1_000) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    const load = env.load({
      kind: 'requests',
      path: '/v1/deliveries?limit=1000',
      token,
      inFlight: 2,
      localAddress: '127.0.1.2',
    })
    return { stop: async () => `${setup}; pages ${describeLoad(await load.stop())}` }
  },
}
