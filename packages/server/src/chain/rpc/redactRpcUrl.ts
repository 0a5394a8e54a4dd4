/**
 * A node URL fit for logs, metrics and `/health`. Hosted RPC providers put API keys in the user
 * info (`https://key@host`), in the query string (`?apikey=…`) or in the path
 * (`/v3/<key>`, `/v2/<key>`, `/<token>/`): all three are hidden. A path segment is taken for a key
 * when it is a long run of letters, digits, `-` or `_` (16 characters or more) — names of
 * networks and API versions are shorter.
 */
export function redactRpcUrl(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return '<unparseable URL>'
  }
  if (url.username) url.username = '***'
  if (url.password) url.password = '***'
  if (url.search) url.search = '?***'
  url.hash = ''
  url.pathname = url.pathname
    .split('/')
    .map((segment) => (/^[A-Za-z0-9_-]{16,}$/.test(segment) ? '***' : segment))
    .join('/')
  return url.toString()
}
