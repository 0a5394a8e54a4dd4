#!/usr/bin/env node
// Runs the compiled, bundled CLI (`npm install` builds it; `npm run build` after changing the sources).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/wallet-backend.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('wallet-backend: not built yet; run "npm run build" in the repository first.\n')
  process.exit(1)
}
await import(entry.href)
