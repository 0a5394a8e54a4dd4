import type { Attack } from './harness.js'
import { randomAddress } from './randomAddress.js'

/**
 * A contract with heavy traffic (20 transactions a second, each mined in a block of its own, in
 * both phases), and an attacker whose 16 filters all match it: every transaction is matched and
 * queued for the attacker. Alone is with the traffic and without the attacker.
 */
export function busyContract(): Attack {
  const contract = randomAddress()
  return {
    name: 'busy contract (16 filters matching a contract under heavy traffic)',
    environment: async (env) => {
      // An account of its own: the calm back-fills and the attack's calls send from the first.
      const from = (await env.anvil.accounts())[1]
      return env.load({ kind: 'traffic', rpcUrl: env.anvil.node.httpUrl, from, to: contract, perSecond: 20 })
    },
    start: async (env) => {
      const token = await env.signIn()
      const filters = [
        { code: 'all', args: [] },
        ...Array.from({ length: 15 }, (_, i) => ({
          code: 'calls',
          args: ['0xdeadbeef', `0x0000000${i.toString(16)}`],
        })),
      ]
      const put = await env.call('PUT', `/v1/interests/${contract}`, token, { filters })
      return {
        stop: async () => {
          const usage = await env.call('GET', '/v1/usage', token)
          return `interest ${put.status}${put.json?.code ? ` ${put.json.code}` : ''}; ${usage.json?.usage?.itemsQueued ?? '?'} items queued for the attacker`
        },
      }
    },
  }
}
