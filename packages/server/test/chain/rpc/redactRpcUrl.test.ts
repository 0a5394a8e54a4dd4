import { describe, expect, it } from 'vitest'
import { redactRpcUrl } from '../../../src/chain/rpc/redactRpcUrl.js'

describe('redactRpcUrl', () => {
  it.each([
    ['http://127.0.0.1:8545', 'http://127.0.0.1:8545/'],
    ['ws://localhost:8546/', 'ws://localhost:8546/'],
    ['https://user:secret@node.example/rpc', 'https://***:***@node.example/rpc'],
    ['https://0123456789abcdef@node.example/', 'https://***@node.example/'],
    ['https://node.example/rpc?apikey=abc&x=1', 'https://node.example/rpc?***'],
    ['https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef', 'https://mainnet.infura.io/v3/***'],
    [
      'wss://eth-mainnet.g.alchemy.com/v2/AbCdEfGhIjKlMnOpQrStUv-_12',
      'wss://eth-mainnet.g.alchemy.com/v2/***',
    ],
    ['https://name.quiknode.pro/4f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6/', 'https://name.quiknode.pro/***/'],
    ['https://rpc.example/eth/mainnet#fragment', 'https://rpc.example/eth/mainnet'],
    ['not a url', '<unparseable URL>'],
  ])('%s → %s', (input, expected) => {
    expect(redactRpcUrl(input)).toBe(expected)
  })
})
