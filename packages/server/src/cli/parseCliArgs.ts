import { parseArgs } from 'node:util'
import { ConfigError } from '../config/ConfigError.js'
import { SETTINGS } from '../config/settings.js'

export const COMMANDS = ['start', 'migrate', 'version', 'help'] as const
export type Command = (typeof COMMANDS)[number]

export type CliArgs = {
  command: Command
  flags: Record<string, unknown>
  configFile: string | undefined
  /** `--demo`: demo contracts, traffic and wallets on the embedded anvil (start only). */
  demo: boolean
}

/** Splits argv into a command and its flags; unknown commands and flags are errors that name them. */
export function parseCliArgs(argv: string[]): CliArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string', short: 'c' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    demo: { type: 'boolean' },
  }
  for (const setting of SETTINGS) {
    options[setting.flag] =
      setting.key === 'nodeUrls' ? { type: 'string', multiple: true } : { type: 'string' }
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (error) {
    throw new ConfigError(
      'command line',
      'arguments',
      (error as Error).message.replace(/\. To specify.*$/s, ''),
    )
  }
  const { values, positionals } = parsed
  const first = positionals[0]
  if (positionals.length > 1) {
    throw new ConfigError('command line', 'arguments', `unexpected argument "${positionals[1]}"`)
  }
  let command: Command = values.help ? 'help' : values.version ? 'version' : 'start'
  if (first !== undefined) {
    if (!(COMMANDS as readonly string[]).includes(first)) {
      throw new ConfigError(
        'command',
        'arguments',
        `unknown command "${first}"; commands: ${COMMANDS.join(', ')}`,
      )
    }
    command = values.help ? 'help' : (first as Command)
  }
  const flags: Record<string, unknown> = {}
  for (const setting of SETTINGS) {
    const value = values[setting.flag]
    if (value !== undefined) flags[setting.flag] = value
  }
  return { command, flags, configFile: values.config as string | undefined, demo: values.demo === true }
}
