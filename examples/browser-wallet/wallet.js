// The wallet page: sign-in (proof of work in a Worker), interest in a token, live items through the
// stream (each proven against its block header), and wallet state synced between devices.
import { WalletBackendClient, WalletStateSync } from '@wallet-backend/sdk'
import { currentState, deriveKeyFromSecret } from '@wallet-backend/wallet-state'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

const params = new URLSearchParams(location.search)
const backend = params.get('backend') ?? 'http://127.0.0.1:8080'
const element = (id) => document.getElementById(id)
const show = (id, text, kind) => {
  element(id).textContent = text
  if (kind !== undefined) element(id).className = `state ${kind}`
}

// The client key names this device's wallet to the backend; every device of one wallet derives the
// same one (here: given in the URL, or one kept in this browser).
const clientKey = params.get('key') ?? localStorage.getItem('clientKey') ?? generatePrivateKey()
localStorage.setItem('clientKey', clientKey)
const secret = new TextEncoder().encode(params.get('secret') ?? clientKey)

function solveInWorker(nonce, address, difficulty) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./pow-worker.js', import.meta.url), { type: 'module' })
    worker.onmessage = (event) => {
      worker.terminate()
      resolve(event.data)
    }
    worker.onerror = (event) => {
      worker.terminate()
      reject(new Error(event.message))
    }
    worker.postMessage({ nonce, address, difficulty })
  })
}

const client = new WalletBackendClient({
  url: backend,
  account: privateKeyToAccount(clientKey),
  solveProofOfWork: solveInWorker,
})
const state = new WalletStateSync(client, await deriveKeyFromSecret(secret))

function renderCredentials() {
  const list = element('credentials')
  list.replaceChildren(
    ...Object.keys(currentState(state.container).credentials)
      .sort()
      .map((id) => Object.assign(document.createElement('li'), { textContent: id })),
  )
}

let stream
function watch() {
  stream?.close()
  stream = client.stream({
    onOpen: () => show('stream-state', 'open', 'ok'),
    onError: (error) => show('stream-state', `reconnecting (${error.code})`, 'bad'),
    onAcked: (cursor) => show('acked', String(cursor)),
    onItem: async (item) => {
      const line = document.createElement('li')
      line.dataset.kind = item.kind
      line.textContent = `#${item.cursor} ${item.kind} in block ${item.block?.number ?? '–'}`
      element('items').append(line)
      // Proven against the block header, not taken on the backend's word.
      await client.verifyItem(item)
      line.classList.add('verified')
      stream.ack(item.cursor)
    },
  })
}

element('backend').textContent = backend
show('status', 'signing in (proof of work in a worker)…')
const { clientId, registered } = await client.signIn()
show('status', registered ? 'signed in, registered' : 'signed in', 'ok')
element('client-id').textContent = clientId
await state.load()
renderCredentials()

element('watch-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  const token = element('token').value.trim()
  await client.putInterest(token, { filters: [{ code: 'all', args: [] }] })
  watch()
})
element('add-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  state.edit('new_credential', { credentialId: element('label').value.trim() })
  await state.sync()
  element('label').value = ''
  renderCredentials()
})
element('refresh').addEventListener('click', async () => {
  await state.load()
  renderCredentials()
})
