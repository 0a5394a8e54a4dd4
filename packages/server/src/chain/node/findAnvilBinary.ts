import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

/** How to start anvil: a command and the arguments that come before anvil's own. */
export type AnvilExecutable = {
  command: string
  args: string[]
  /**
   * True when anvil runs under the npm package's Node.js launcher: SIGTERM reaches anvil through
   * it, SIGKILL does not.
   */
  wrapped: boolean
}

/** The per-platform packages `@foundry-rs/anvil` depends on, by Node's platform and architecture. */
const PLATFORM_PACKAGES: Record<string, Record<string, string>> = {
  darwin: { x64: 'darwin-amd64', arm64: 'darwin-arm64' },
  linux: { x64: 'linux-amd64', arm64: 'linux-arm64' },
  win32: { x64: 'win32-amd64' },
}

/**
 * Finds the anvil that npm installed with `@foundry-rs/anvil`. Its binary ships in a per-platform
 * optional package (`@foundry-rs/anvil-linux-amd64`, …), so no install script has to download it;
 * where that package is missing, the launcher of `@foundry-rs/anvil` (`bin.mjs`) finds whatever
 * its install step put in place.
 */
export function findAnvilBinary(): AnvilExecutable {
  const require = createRequire(import.meta.url)
  const suffix = PLATFORM_PACKAGES[process.platform]?.[process.arch]
  const binaryName = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  if (suffix) {
    try {
      const dir = dirname(require.resolve(`@foundry-rs/anvil-${suffix}/package.json`))
      const binary = join(dir, 'bin', binaryName)
      if (existsSync(binary)) return { command: binary, args: [], wrapped: false }
    } catch {}
  }
  try {
    const launcher = join(dirname(require.resolve('@foundry-rs/anvil/package.json')), 'bin.mjs')
    if (existsSync(launcher)) return { command: process.execPath, args: [launcher], wrapped: true }
  } catch {}
  const wanted = suffix
    ? `@foundry-rs/anvil-${suffix}`
    : `an anvil build for ${process.platform}-${process.arch}`
  throw new Error(
    `The embedded node needs ${wanted}, which npm installs with @foundry-rs/anvil. ` +
      'Run "npm install", or configure a node URL instead.',
  )
}
