import { defaultText } from '../config/defaultText.js'
import { SETTINGS } from '../config/settings.js'

/** `wallet-backend --help`, generated from the settings table. */
export function helpText(): string {
  const lines = [
    'wallet-backend — backend for light wallets on EVM chains',
    '',
    'Usage: wallet-backend <command> [flags]',
    '',
    'Commands:',
    '  start     run the service (default)',
    '  migrate   apply database migrations and exit',
    '  version   print the version',
    '  help      print this help',
    '',
    'Flags (each also read from its environment variable, or from the JSON file given with --config):',
    '  -c, --config <file>   JSON file of settings, keyed by setting name (e.g. {"nodeUrls": ["http://…"]})',
    '  --demo                start only, embedded anvil only: deploy demo contracts, keep traffic going and',
    '                        run simulated wallets, to see the operator console (/console) at work',
  ]
  for (const setting of SETTINGS) {
    const fallback = defaultText(setting.default) ?? 'none'
    lines.push(`  --${setting.flag} <value>`)
    lines.push(`      ${setting.description}`)
    lines.push(`      ${setting.env}; allowed: ${setting.allowed}; default: ${fallback}`)
  }
  return lines.join('\n')
}
