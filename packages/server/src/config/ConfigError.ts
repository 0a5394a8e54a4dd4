import { BaseError } from '../errors/BaseError.js'
import type { Setting } from './settings.js'

/** A setting with a value that is not allowed; the message names the setting, where it came from and what is allowed. */
export class ConfigError extends BaseError {
  override readonly name = 'ConfigError'

  constructor(setting: Setting | string, source: string, reason: string) {
    const label = typeof setting === 'string' ? setting : `${setting.key} (--${setting.flag}, ${setting.env})`
    const allowed = typeof setting === 'string' ? '' : ` Allowed: ${setting.allowed}.`
    super('CONFIG_INVALID', `Invalid setting ${label} from ${source}: ${reason}.${allowed}`, {
      status: 400,
      details: { setting: typeof setting === 'string' ? setting : setting.key, source },
    })
  }
}
