// Regenerates the settings table of docs/configuration.md from the settings declaration:
// npx tsx packages/server/scripts/write-configuration-doc.ts
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { settingsTable } from '../src/config/settingsTable.js'

const path = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url))
const begin = '<!-- settings:begin -->'
const end = '<!-- settings:end -->'
const doc = readFileSync(path, 'utf8')
const start = doc.indexOf(begin)
const stop = doc.indexOf(end)
if (start < 0 || stop < 0) throw new Error(`${path} lacks the ${begin} … ${end} markers`)
writeFileSync(path, `${doc.slice(0, start + begin.length)}\n${settingsTable()}\n${doc.slice(stop)}`)
console.log('docs/configuration.md: settings table rewritten')
