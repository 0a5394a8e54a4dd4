#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader: no build step between a clone and a start.
import { register } from 'tsx/esm/api'

// Everything the service writes — the embedded database, the node's chain, the admin token, crash
// records — is for this user only, including files created by libraries that pass no mode.
process.umask(0o077)
register()
const { main } = await import('../src/cli/main.ts')
const code = await main(process.argv.slice(2))
process.exit(code)
