import { type Attack, describeLoad } from './harness.js'

/** One client keeps 256 requests in flight without pause, from another /24 (127.0.1.1). */
export const requestFlood: Attack = {
  name: 'request flood (256 in flight)',
  start: async (env) => {
    const token = await env.signIn()
    const load = env.load({
      kind: 'requests',
      path: '/v1/interests',
      token,
      inFlight: 256,
      localAddress: '127.0.1.1',
    })
    return { stop: async () => `flood ${describeLoad(await load.stop())}` }
  },
}
