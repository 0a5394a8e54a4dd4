import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Config } from '../config/settings.js'
import type { Lifecycle } from '../lifecycle/Lifecycle.js'
import type { LogLevel } from '../observability/createLogger.js'
import type { HealthReport } from './schemas/Health.js'

/** What the HTTP layer needs from the running service; routes get it and nothing else. */
export type AppContext = {
  config: Config
  logger: Logger
  metrics: Registry
  lifecycle: Lifecycle
  adminToken: string
  setLogLevel(level: LogLevel): void
  health(): HealthReport
}
