// `npm start` runs the build in dist/: rebuild first when a package's sources (or manifest) are
// newer than it, so a start after editing never runs stale code, and one after `npm install`
// (which builds) costs a directory walk.
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const built = join(root, 'packages/server/dist/wallet-backend.js')

function newest(path) {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
}

const inputs = ['wallet-state', 'sdk', 'server'].flatMap((name) => [
  join(root, 'packages', name, 'src'),
  join(root, 'packages', name, 'package.json'),
])
if (!existsSync(built) || Math.max(...inputs.map(newest)) > statSync(built).mtimeMs) {
  process.stderr.write('building (the sources changed since the last build)…\n')
  execSync('npm run --silent build', { cwd: root, stdio: 'inherit' })
}
