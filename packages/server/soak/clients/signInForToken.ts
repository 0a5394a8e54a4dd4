import type { LocalAccount } from 'viem'

/**
 * A session token for an already registered key, by hand (the SDK keeps its token to itself):
 * the raw stream client needs one for the WebSocket URL.
 */
export async function signInForToken(url: string, account: LocalAccount): Promise<string> {
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`)
    return (await response.json()) as Record<string, unknown>
  }
  const challenge = await post('/v1/auth/challenge', { address: account.address })
  const message = String(challenge.message)
  const signature = await account.signMessage({ message })
  return String((await post('/v1/auth/session', { message, signature })).token)
}
