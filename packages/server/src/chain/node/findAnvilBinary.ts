import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64' }

/**
 * The anvil binary that npm installed with `@foundry-rs/anvil`: it ships in a per-platform
 * package (`@foundry-rs/anvil-linux-amd64`, …), so no install script has to download anything.
 */
export function findAnvilBinary(): string {
  const arch = ARCH[process.arch]
  const name = `@foundry-rs/anvil-${process.platform}-${arch}`
  const require = createRequire(import.meta.url)
  try {
    const dir = dirname(require.resolve(`${name}/package.json`))
    const binary = join(dir, 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil')
    if (existsSync(binary)) return binary
  } catch {}
  throw new Error(
    `The embedded node needs ${name}, which npm installs with @foundry-rs/anvil on this platform. ` +
      'Run "npm ci", or configure a node with --node-url.',
  )
}
