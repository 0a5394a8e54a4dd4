import { readFileSync } from 'node:fs'
import { ConfigError } from './ConfigError.js'
import { PLAN_QUOTA_TABLE, PLAN_QUOTAS } from './planQuotas.js'
import {
  type Config,
  parseSetting,
  resolvePlans,
  SETTINGS,
  type Setting,
  type SettingValues,
} from './settings.js'

export type ConfigSources = {
  /** Parsed command-line flags, keyed by flag name (`node-url`), as `parseCliArgs` returns them. */
  flags?: Record<string, unknown>
  env?: Record<string, string | undefined>
  /** Path of a JSON file whose keys are setting keys (`nodeUrls`, `dataDir`, …). */
  configFile?: string
}

/**
 * Resolves every setting: defaults, then the config file, then the environment, then flags — each
 * later source wins. Every value is validated; the first bad one throws a ConfigError naming it.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const file = sources.configFile ? readConfigFile(sources.configFile) : {}
  const known = new Set<string>(SETTINGS.map((setting) => setting.key))
  for (const key of Object.keys(file)) {
    if (!known.has(key)) {
      throw new ConfigError(
        key,
        `config file ${sources.configFile}`,
        `unknown setting; known: ${[...known].join(', ')}`,
      )
    }
  }
  const values: Record<string, unknown> = {}
  for (const setting of SETTINGS as readonly Setting[]) {
    values[setting.key] = resolve(setting, file, sources)
  }
  return withPlans(values as SettingValues)
}

/** Folds the shorthand settings of the default plan's quotas into `plans`, where quotas are read from. */
function withPlans(values: SettingValues): Config {
  const config: Record<string, unknown> = { ...values, plans: resolvePlans(values) }
  for (const quota of PLAN_QUOTAS) delete config[PLAN_QUOTA_TABLE[quota].key]
  return config as Config
}

function resolve(setting: Setting, file: Record<string, unknown>, sources: ConfigSources): unknown {
  const flag = sources.flags?.[setting.flag]
  if (flag !== undefined) return parseSetting(setting, flag, `flag --${setting.flag}`)
  const env = sources.env?.[setting.env]
  if (env !== undefined) return parseSetting(setting, env, `environment variable ${setting.env}`)
  if (file[setting.key] !== undefined) return parseSetting(setting, file[setting.key], 'config file')
  return setting.default
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new ConfigError(
      'config',
      `flag --config`,
      `cannot read ${path} (${(error as NodeJS.ErrnoException).code})`,
    )
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new ConfigError('config', `config file ${path}`, `not valid JSON (${(error as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('config', `config file ${path}`, 'expected a JSON object of settings')
  }
  return parsed as Record<string, unknown>
}

/** The configuration with secrets replaced, fit for logs and crash records. */
export function redactConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config }
  for (const setting of SETTINGS as readonly Setting[]) {
    if (setting.redact && setting.key in config)
      out[setting.key] = setting.redact(config[setting.key as keyof Config] as never)
  }
  return out
}
