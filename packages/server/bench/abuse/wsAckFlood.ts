import { type Attack, describeLoad } from './harness.js'

/** 4 streams of one client, each keeping 50 acks in flight, from 127.0.1.3. */
export const wsAckFlood: Attack = {
  name: 'WebSocket ack flood (4 streams × 50 acks in flight)',
  start: async (env) => {
    const token = await env.signIn()
    const load = env.load({ kind: 'wsAcks', token, streams: 4, inFlight: 50, localAddress: '127.0.1.3' })
    return { stop: async () => `acks ${describeLoad(await load.stop())}` }
  },
}
