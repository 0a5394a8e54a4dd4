// Compiles the demo's contracts (src/demo/contracts/DemoContracts.sol, against the OpenZeppelin
// version in devDependencies) with solc-js. `--write` stores the result beside the source, where
// the demo reads it at run time: the service itself needs no compiler.
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SOURCE_FILE = 'DemoContracts.sol'
export const CONTRACTS_DIR = fileURLToPath(new URL('../src/demo/contracts/', import.meta.url))
export const COMPILED_FILE = join(CONTRACTS_DIR, 'demoContracts.compiled.json')

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
}

export type CompiledContracts = {
  compiler: string
  openzeppelin: string
  settings: typeof SETTINGS
  contracts: Record<string, { abi: unknown[]; bytecode: `0x${string}` }>
}

export function compileDemoContracts(): CompiledContracts {
  const require = createRequire(import.meta.url)
  const solc = require('solc') as {
    version(): string
    compile(
      input: string,
      callbacks: { import(path: string): { contents: string } | { error: string } },
    ): string
  }
  const openzeppelin = require('@openzeppelin/contracts/package.json') as { version: string }
  const ozRoot = dirname(require.resolve('@openzeppelin/contracts/package.json'))
  const input = {
    language: 'Solidity',
    sources: { [SOURCE_FILE]: { content: readFileSync(join(CONTRACTS_DIR, SOURCE_FILE), 'utf8') } },
    settings: SETTINGS,
  }
  const output = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (path) => {
        const prefix = '@openzeppelin/contracts/'
        if (!path.startsWith(prefix)) return { error: `not found: ${path}` }
        return { contents: readFileSync(join(ozRoot, path.slice(prefix.length)), 'utf8') }
      },
    }),
  ) as {
    errors?: { severity: string; formattedMessage: string }[]
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>
  }
  const errors = (output.errors ?? []).filter((error) => error.severity === 'error')
  if (errors.length > 0) throw new Error(errors.map((error) => error.formattedMessage).join('\n'))
  const contracts: CompiledContracts['contracts'] = {}
  for (const [name, contract] of Object.entries(output.contracts[SOURCE_FILE] ?? {})) {
    contracts[name] = { abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` }
  }
  return {
    compiler: `solc ${solc.version()}`,
    openzeppelin: openzeppelin.version,
    settings: SETTINGS,
    contracts,
  }
}

if (process.argv.includes('--write')) {
  writeFileSync(COMPILED_FILE, `${JSON.stringify(compileDemoContracts(), null, 1)}\n`)
  process.stdout.write(`wrote ${COMPILED_FILE}\n`)
}
