import { type Attack, CALM_TIMEOUT_MS, type CalmProbe } from './harness.js'
import { randomAddress } from './randomAddress.js'

/**
 * The calm client's history: a transaction to a fresh address, then an interest in it with
 * startBlock four blocks before it, timed until the item is delivered (a 5-block back-fill).
 */
const calmBackfill: CalmProbe = {
  name: '5-block back-fill to delivery',
  once: async (env) => {
    const token = await env.signIn()
    const target = randomAddress()
    const [from] = await env.anvil.accounts()
    await env.anvil.rpc('eth_sendTransaction', [{ from, to: target, value: '0x1' }])
    const head = await env.anvil.blockNumber()
    const put = await env.call('PUT', `/v1/interests/${target}`, token, {
      filters: [{ code: 'all', args: [] }],
      startBlock: Math.max(0, head - 4),
    })
    if (put.status !== 200 && put.status !== 201) return put.status
    const deadline = Date.now() + CALM_TIMEOUT_MS * 2
    while (Date.now() < deadline) {
      const page = await env.call('GET', '/v1/deliveries?limit=10', token)
      if (page.status !== 200) return page.status
      if ((page.json?.items ?? []).some((item: { kind: string }) => item.kind === 'tx')) return 200
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return 0
  },
}

/**
 * Three interests with startBlock 0 on a long chain: the service fetches the whole history three
 * times for one client. The calm figure is the time another client's 5-block back-fill takes.
 */
export const backfillFlood: Attack = {
  name: 'back-fill flood (3 interests from block 0)',
  probe: calmBackfill,
  start: async (env) => {
    const token = await env.signIn()
    const head = await env.anvil.blockNumber()
    const addresses = [randomAddress(), randomAddress(), randomAddress()]
    const statuses: number[] = []
    for (const address of addresses) {
      const put = await env.call('PUT', `/v1/interests/${address}`, token, {
        filters: [{ code: 'all', args: [] }],
        startBlock: 0,
      })
      statuses.push(put.status)
    }
    return {
      stop: async () => {
        for (const address of addresses) await env.call('DELETE', `/v1/interests/${address}`, token)
        return `3 × ${head} blocks of history (PUT ${statuses.join(', ')})`
      },
    }
  },
}
