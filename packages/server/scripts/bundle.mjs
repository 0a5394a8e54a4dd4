// The CLI as a few bundled files in dist/ (after tsc has compiled the sources there): Node loads
// one module graph of tens of files instead of thousands, which is most of a restart's time.
// Chunks sit in dist/ itself, beside the compiled files, so that paths relative to a module
// (`../package.json`) point where they do from the sources. Packages that load files of their own
// at run time (PGlite's WebAssembly, anvil's binary, the docs UI's assets, pino's workers) stay
// outside the bundle.
import { build } from 'esbuild'

await build({
  entryPoints: { 'wallet-backend': new URL('../dist/cli/run.js', import.meta.url).pathname },
  outdir: new URL('../dist/', import.meta.url).pathname,
  chunkNames: 'chunk-[name]-[hash]',
  bundle: true,
  splitting: true,
  sourcemap: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: [
    '@electric-sql/pglite',
    '@fastify/swagger-ui',
    '@foundry-rs/anvil',
    'pg-native',
    'pino',
    'thread-stream',
  ],
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
})
