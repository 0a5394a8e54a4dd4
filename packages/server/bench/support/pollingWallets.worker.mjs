// Wallets without a backend: each polls the node itself with viem's watchContractEvent. They run
// in a worker of their own because viem's pollers outlive their unwatch (their timers keep firing
// at a node that is gone), and terminating the worker ends them for sure, before the next benchmark.
import { parentPort, workerData } from 'node:worker_threads'
import { createPublicClient, http, parseAbiItem } from 'viem'

const TRANSFER_EVENT = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')
const { url, token, pollMs } = workerData
let logsSeen = 0

parentPort.on('message', (message) => {
  if (message.type === 'add') {
    for (let i = 0; i < message.count; i++) {
      const client = createPublicClient({ transport: http(url), pollingInterval: pollMs })
      client.watchContractEvent({
        address: token,
        abi: [TRANSFER_EVENT],
        eventName: 'Transfer',
        onLogs: (logs) => {
          logsSeen += logs.length
        },
      })
    }
    parentPort.postMessage({ type: 'added' })
  } else if (message.type === 'logsSeen') {
    parentPort.postMessage({ type: 'logsSeen', logsSeen })
  }
})
