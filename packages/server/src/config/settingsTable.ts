import { SETTINGS } from './settings.js'

const shown = (value: unknown) =>
  value === undefined || (Array.isArray(value) && value.length === 0)
    ? '—'
    : `\`${Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : value}\``

/** The Markdown table of every setting, as docs/configuration.md shows it. */
export function settingsTable(): string {
  return [
    '| setting (config file key) | flag | environment variable | default | meaning |',
    '|---|---|---|---|---|',
    ...SETTINGS.map(
      (s) =>
        `| \`${s.key}\` | \`--${s.flag}\` | \`${s.env}\` | ${shown(s.default)} | ${s.description} Allowed: ${s.allowed}. |`,
    ),
  ].join('\n')
}
