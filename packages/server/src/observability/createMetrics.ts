import { collectDefaultMetrics, Registry } from 'prom-client'

/**
 * One Prometheus registry per service instance (not the global one), so that several instances in
 * one process — as in tests — do not mix their figures.
 */
export function createMetrics(): Registry {
  const registry = new Registry()
  registry.setDefaultLabels({ service: 'wallet-backend' })
  collectDefaultMetrics({ register: registry, prefix: 'wallet_backend_' })
  return registry
}
