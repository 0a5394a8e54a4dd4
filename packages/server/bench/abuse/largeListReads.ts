import { type Attack, describeLoad } from './harness.js'
import { randomAddress } from './randomAddress.js'

const topic = (n: number) => `0x${n.toString(16).padStart(64, '0')}`

/**
 * An attacker with as many interests as it may have (100 by default), each with 16 filters of 32
 * topics, reading the list 8 requests at a time from 127.0.1.5.
 */
export const largeListReads: Attack = {
  name: 'large list reads (GET /v1/interests, 100 interests × 16 filters × 32 topics)',
  start: async (env) => {
    const token = await env.signIn()
    let stored = 0
    for (let i = 0; i < 100; i++) {
      const filters = Array.from({ length: 16 }, (_, f) => ({
        code: 'logs',
        args: [Array.from({ length: 32 }, (_, t) => topic(i * 10_000 + f * 100 + t))],
      }))
      const put = await env.call('PUT', `/v1/interests/${randomAddress()}`, token, { filters })
      if (put.status !== 200 && put.status !== 201) break
      stored++
    }
    const list = await env.call('GET', '/v1/interests', token)
    const bytes = JSON.stringify(list.json ?? {}).length
    const load = env.load({
      kind: 'requests',
      path: '/v1/interests',
      token,
      inFlight: 8,
      localAddress: '127.0.1.5',
    })
    return {
      stop: async () =>
        `${stored} interests, ${Math.round(bytes / 1024)} KiB a list; reads ${describeLoad(await load.stop())}`,
    }
  },
}
