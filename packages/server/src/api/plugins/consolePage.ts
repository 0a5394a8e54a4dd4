import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
}

/**
 * The package's `console/` folder: found by walking up from this module, which runs from the
 * sources (src/api/plugins/) in tests and from the bundle (dist/) in production.
 */
function consoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, 'console')
    if (existsSync(join(candidate, 'index.html'))) return candidate
    const parent = dirname(dir)
    if (parent === dir) throw new Error('the console files (console/index.html) are missing from the package')
    dir = parent
  }
}

/**
 * The operator console: static files, read once at start, that need nothing from a CDN. The
 * page holds no data of its own: it asks the admin API with the token the operator enters.
 */
export async function consolePage(app: FastifyInstance): Promise<void> {
  const dir = consoleDir()
  const files = new Map(
    Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(join(dir, name)) }]),
  )
  const serve = (name: string) => async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const file = files.get(name)!
    reply
      .type(file.type)
      .header('cache-control', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      )
    return reply.send(file.body)
  }
  app.get('/console', { schema: { hide: true } }, serve('index.html'))
  for (const name of Object.keys(FILES)) app.get(`/console/${name}`, { schema: { hide: true } }, serve(name))
}
