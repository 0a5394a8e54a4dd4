import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** What a call to one endpoint came to. */
export type RpcOutcome = 'ok' | 'rpc_error' | 'timeout' | 'transport_error' | 'wrong_chain' | 'aborted'

export type RpcMetrics = {
  /** One per JSON-RPC call (each call of a batch counts) by method, endpoint and outcome. */
  calls: Counter<'method' | 'endpoint' | 'outcome'>
  /** Round-trip time of one message (a single call, or a whole batch as method `batch`). */
  latency: Histogram<'method' | 'endpoint'>
  /** 1 while the endpoint is healthy, 0 while it is backing off after failures. */
  up: Gauge<'endpoint'>
}

/**
 * The node-call metrics in `registry`. Several clients may share a registry (a service and its
 * tools): they then share these metrics instead of failing on a second registration.
 */
export function rpcMetrics(registry: Registry): RpcMetrics {
  const registers = [registry]
  const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined
  return {
    calls:
      existing<Counter<'method' | 'endpoint' | 'outcome'>>('wallet_backend_node_requests_total') ??
      new Counter({
        name: 'wallet_backend_node_requests_total',
        help: 'JSON-RPC calls to the node by method, endpoint (position in the configured list) and outcome',
        labelNames: ['method', 'endpoint', 'outcome'],
        registers,
      }),
    latency:
      existing<Histogram<'method' | 'endpoint'>>('wallet_backend_node_request_seconds') ??
      new Histogram({
        name: 'wallet_backend_node_request_seconds',
        help: 'JSON-RPC round-trip time by method (or "batch") and endpoint',
        labelNames: ['method', 'endpoint'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers,
      }),
    up:
      existing<Gauge<'endpoint'>>('wallet_backend_node_endpoint_up') ??
      new Gauge({
        name: 'wallet_backend_node_endpoint_up',
        help: '1 while the node endpoint is healthy, 0 while it is backing off after failures',
        labelNames: ['endpoint'],
        registers,
      }),
  }
}
