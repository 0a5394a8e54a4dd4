import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** A request to the admin API of the backend at `url`, with the admin token it wrote to `dataDir`. */
export function adminRequest(
  url: string,
  dataDir: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${url}/admin${path}`, {
    method,
    headers: {
      authorization: `Bearer ${readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  })
}
