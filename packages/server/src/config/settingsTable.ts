import { defaultText } from './defaultText.js'
import { SETTINGS } from './settings.js'

const shown = (value: unknown) => {
  const text = defaultText(value)
  return text === undefined ? '—' : `\`${text}\``
}

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
