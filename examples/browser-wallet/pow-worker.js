// The registration proof of work (about 2^difficulty hashes) runs here, off the page's thread.
import { solveProofOfWork } from '@wallet-backend/sdk'

self.onmessage = (event) => {
  const { nonce, address, difficulty } = event.data
  self.postMessage(solveProofOfWork(nonce, address, difficulty))
}
