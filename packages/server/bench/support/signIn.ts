import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

/** Registers a new client (the service under benchmark asks no proof of work) and returns its session token. */
export async function signIn(url: string): Promise<string> {
  const account = privateKeyToAccount(generatePrivateKey())
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  const challenge = await (await post('/v1/auth/challenge', { address: account.address })).json()
  const signature = await account.signMessage({ message: challenge.message })
  return (await (await post('/v1/auth/session', { message: challenge.message, signature })).json()).token
}
