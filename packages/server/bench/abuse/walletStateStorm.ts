import { type Attack, describeLoad } from './harness.js'

/** `clients` clients each writing 1 MiB of wallet state in a loop (compare-and-set), from 127.0.1.4. */
export function walletStateStorm(clients: number): Attack {
  return {
    name: `wallet-state write storm (1 MiB PUTs, ${clients} client${clients > 1 ? 's' : ''})`,
    start: async (env) => {
      const tokens = await Promise.all(Array.from({ length: clients }, () => env.signIn()))
      const load = env.load({ kind: 'walletState', tokens, bytes: 1_048_576, localAddress: '127.0.1.4' })
      return { stop: async () => `PUTs ${describeLoad(await load.stop())}` }
    },
  }
}
