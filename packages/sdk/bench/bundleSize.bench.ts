import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const ENTRIES = { main: '@wallet-backend/sdk', verify: '@wallet-backend/sdk/verify' }

/**
 * What the SDK adds to a browser app: each entry, with everything it imports (viem, the trie,
 * wallet-state, ws's browser stub), bundled from the build for browsers and minified, in bytes
 * before and after gzip. Every export is kept: an app that imports less gets less.
 */
export async function runBundleSizeBench(): Promise<Record<string, number>> {
  const figures: Record<string, number> = {}
  for (const [name, specifier] of Object.entries(ENTRIES)) {
    const result = await build({
      stdin: { contents: `export * from '${specifier}'`, resolveDir: import.meta.dirname, loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      write: false,
      logLevel: 'silent',
    })
    const bytes = result.outputFiles[0]!.contents
    figures[`${name}MinifiedBytes`] = bytes.length
    figures[`${name}GzipBytes`] = gzipSync(bytes, { level: 9 }).length
  }
  return figures
}
