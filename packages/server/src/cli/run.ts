// The process entry of the `wallet-backend` command: bin/ runs its compiled form, tests its source.
import { main } from './main.js'

process.exit(await main(process.argv.slice(2)))
