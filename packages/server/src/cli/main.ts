import { join } from 'node:path'
import { ConfigError } from '../config/ConfigError.js'
import type { loadConfig } from '../config/loadConfig.js'
import type { createLogger } from '../observability/createLogger.js'
import { DataDirExposedError, prepareDataDir } from '../service/prepareDataDir.js'
import { VERSION } from '../version.js'
import { helpText } from './helpText.js'
import { parseCliArgs } from './parseCliArgs.js'

/**
 * The `wallet-backend` command. Returns the process exit code. The service's modules are loaded
 * only by the commands that use them: `version` and `help` answer without them.
 */
export async function main(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let args: ReturnType<typeof parseCliArgs>
  let config: ReturnType<typeof loadConfig>
  try {
    args = parseCliArgs(argv)
    if (args.command === 'help') {
      process.stdout.write(`${helpText()}\n`)
      return 0
    }
    if (args.command === 'version') {
      process.stdout.write(`${VERSION}\n`)
      return 0
    }
    const { loadConfig } = await import('../config/loadConfig.js')
    config = loadConfig({
      flags: args.flags,
      env,
      ...(args.configFile ? { configFile: args.configFile } : {}),
    })
    if (args.demo && args.command !== 'start')
      throw new ConfigError('demo', 'command line', `--demo is for "start" only, not "${args.command}"`)
    if (args.demo && config.nodeUrls.length > 0)
      throw new ConfigError(
        'demo',
        'command line',
        '--demo runs only on the embedded anvil: it deploys contracts and reorgs the chain, which it must not do to an external node; remove --node-url (and WALLET_BACKEND_NODE_URLS)',
      )
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(
        `wallet-backend: ${error.message}\nRun "wallet-backend --help" for the settings.\n`,
      )
      return 2
    }
    throw error
  }
  const { createLogger } = await import('../observability/createLogger.js')
  const logging = createLogger({ level: config.logLevel })
  if (args.command === 'migrate') {
    const { runMigrate } = await import('./runMigrate.js')
    return runMigrate(config, logging.logger)
  }
  return runStart(config, logging, args.demo)
}

async function runStart(
  config: ReturnType<typeof loadConfig>,
  logging: ReturnType<typeof createLogger>,
  demo: boolean,
): Promise<number> {
  const announce = (line: string) => process.stderr.write(`${line}\n`)
  // Everything the service writes — the embedded database, the node's chain, the admin token, crash
  // records — is for this user only, including files made by libraries and children (anvil's state
  // dump) that pass no mode.
  process.umask(0o077)
  try {
    // Checked before anything is written into it, the seeded database included.
    prepareDataDir(config.dataDir)
  } catch (error) {
    if (!(error instanceof DataDirExposedError)) throw error
    announce(`wallet-backend cannot start: ${error.message}`)
    return 1
  }
  if (!config.databaseUrl) {
    const { seedPGlite } = await import('./seedPGlite.js')
    if (await seedPGlite(config.dataDir))
      announce('storage: a new PGlite database, from the migrated one of the build')
  }
  const [{ Service }, { redactConfig }, { writeCrashRecord }] = await Promise.all([
    import('../service/Service.js'),
    import('../config/loadConfig.js'),
    import('../lifecycle/writeCrashRecord.js'),
  ])
  const service = await Service.start({ config, logging, announce })
  logging.logger.info({ config: redactConfig(config) }, 'configuration')
  announce(
    `operator console: ${service.url}/console (admin token: ${config.adminToken ? 'the one configured' : join(service.dataDir, 'admin-token')})`,
  )
  const running = demo
    ? (await import('../demo/startDemo.js')).startDemo({ service, logger: logging.logger, announce })
    : undefined

  const crash = (error: unknown) => {
    const path = writeCrashRecord(service.dataDir, error, {
      health: service.health(),
      config: redactConfig(config),
      recentErrors: logging.recentErrors(),
    })
    logging.logger.fatal({ err: error, crashRecord: path }, 'crashed; diagnostic record written')
    announce(`wallet-backend crashed: ${(error as Error)?.message ?? error}; diagnostic record: ${path}`)
    logging.logger.flush()
    process.exit(1)
  }
  process.on('uncaughtException', crash)
  process.on('unhandledRejection', crash)

  return new Promise<number>((resolve) => {
    let signals = 0
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1
      if (signals > 1) {
        announce(`second ${signal}: exiting without draining`)
        resolve(1)
        return
      }
      announce(`${signal}: draining (at most ${config.shutdownTimeoutMs} ms)`)
      const timer = setTimeout(() => {
        logging.logger.error(
          { timeoutMs: config.shutdownTimeoutMs },
          'draining took too long; exiting anyway',
        )
        resolve(1)
      }, config.shutdownTimeoutMs)
      timer.unref()
      ;(running?.stop() ?? Promise.resolve())
        .then(() => service.stop(`received ${signal}`))
        .then(
          () => {
            clearTimeout(timer)
            announce('stopped')
            resolve(0)
          },
          (error: unknown) => {
            clearTimeout(timer)
            logging.logger.error({ err: error }, 'error while draining')
            resolve(1)
          },
        )
    }
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
    service.failed.then((error) => {
      announce(`wallet-backend cannot start: ${error.message}`)
      service.stop('start failed').finally(() => resolve(1))
    })
  }).then((code) => {
    logging.logger.flush()
    return code
  })
}
