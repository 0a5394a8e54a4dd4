import type { Hex } from 'viem'
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts'

/**
 * Signs in to the backend at `url` over plain HTTP (no proof of work: start it with
 * --registration-pow-bits 0), with a fresh key or `account`; answers the session response.
 */
export async function signIn(
  url: string,
  account: PrivateKeyAccount = privateKeyToAccount(generatePrivateKey()),
): Promise<{ token: string; clientId: Hex; expiresAt: string }> {
  const post = async (path: string, body: unknown) => {
    const answer = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!answer.ok) throw new Error(`${path} answered ${answer.status}: ${await answer.text()}`)
    return answer.json()
  }
  const challenge = await post('/v1/auth/challenge', { address: account.address })
  const signature = await account.signMessage({ message: challenge.message })
  return post('/v1/auth/session', { message: challenge.message, signature })
}
