// Wallets as they are written against a provider: viem's watchContractEvent, over http() (filter
// polling) or webSocket() (a subscription), each pointed at its own URL (the backend's endpoint
// with its key, or the node). In a worker of their own, so that terminating it ends every poller.
// Each log's arrival time is kept, so the main thread can measure block-mined → callback.
import { parentPort, workerData } from 'node:worker_threads'
import { createPublicClient, http, parseAbiItem, webSocket } from 'viem'

const TRANSFER_EVENT = parseAbiItem('event Transfer(address indexed from, address indexed to, uint256 value)')
const { token, pollMs } = workerData
/** txHash → arrival times of its log, one per wallet that got it. */
let arrivals = new Map()
const clients = []

parentPort.on('message', (message) => {
  if (message.type === 'add') {
    for (const url of message.urls) {
      const transport = url.startsWith('ws') ? webSocket(url) : http(url)
      const client = createPublicClient({ transport, pollingInterval: pollMs })
      clients.push(client)
      client.watchContractEvent({
        address: token,
        abi: [TRANSFER_EVENT],
        eventName: 'Transfer',
        onLogs: (logs) => {
          const now = Date.now()
          for (const log of logs) {
            const list = arrivals.get(log.transactionHash) ?? []
            list.push(now)
            arrivals.set(log.transactionHash, list)
          }
        },
        onError: () => {},
      })
    }
    parentPort.postMessage({ type: 'added' })
  } else if (message.type === 'arrivals') {
    parentPort.postMessage({ type: 'arrivals', arrivals: [...arrivals] })
    arrivals = new Map()
  }
})
