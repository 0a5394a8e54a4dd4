import {
  type Abi,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  type Hex,
  toEventSelector,
} from 'viem'
import { describe, expect, it } from 'vitest'
import { compileAbi, MAX_DECODED_BYTES } from '../../src/delivery/compileAbi.js'

const A = `0x${'a1'.repeat(20)}` as Hex
const B = `0x${'b2'.repeat(20)}` as Hex

const transfer = (indexedValue: boolean) =>
  ({
    type: 'event',
    name: 'Transfer',
    inputs: [
      { name: 'from', type: 'address', indexed: true },
      { name: 'to', type: 'address', indexed: true },
      { name: indexedValue ? 'tokenId' : 'value', type: 'uint256', indexed: indexedValue },
    ],
  }) as const

describe('compileAbi', () => {
  it('decodes calls and logs by selector and topic0, trying entries of the same signature in ABI order', () => {
    const abi = [
      transfer(false),
      transfer(true),
      { type: 'function', name: 'put', inputs: [{ name: 'data', type: 'bytes' }], outputs: [] },
      { type: 'not an entry' },
      { type: 'function', name: 'broken', inputs: [{ type: 'uint7' }] },
    ] as unknown as Abi
    const decoder = compileAbi(abi)!
    const data = encodeFunctionData({ abi, functionName: 'put', args: ['0x1234'] })
    expect(decoder.decodeCall(data)).toEqual({ name: 'put', args: ['0x1234'] })
    expect(decoder.decodeCall('0xdeadbeef')).toBeUndefined()
    expect(decoder.decodeCall('0x')).toBeUndefined()
    const word = (value: string) => `0x${value.replace(/^0x/, '').padStart(64, '0')}` as Hex
    const topics = [toEventSelector('Transfer(address,address,uint256)'), word(A), word(B), word('7')]
    // ERC-721: the ERC-20 event of the same signature does not fit (no data), the next one does.
    expect(decoder.decodeLog({ topics, data: '0x' })).toEqual({
      name: 'Transfer',
      args: { from: getAddress(A), to: getAddress(B), tokenId: '7' },
    })
    expect(
      decoder.decodeLog({
        topics: topics.slice(0, 3),
        data: encodeAbiParameters([{ type: 'uint256' }], [5n]),
      }),
    ).toEqual({
      name: 'Transfer',
      args: { from: getAddress(A), to: getAddress(B), value: '5' },
    })
  })

  it("decodes a view call's result by the function of its calldata", () => {
    const abi = [
      {
        type: 'function',
        name: 'get',
        inputs: [],
        outputs: [{ name: 'v', type: 'uint256' }],
        stateMutability: 'view',
      },
    ] as const
    const decoder = compileAbi(abi)!
    const call = encodeFunctionData({ abi, functionName: 'get' })
    expect(decoder.decodeResult(call, encodeAbiParameters([{ type: 'uint256' }], [9n]))).toEqual({
      name: 'get',
      result: '9',
    })
    expect(
      decoder.decodeResult('0x12345678', encodeAbiParameters([{ type: 'uint256' }], [9n])),
    ).toBeUndefined()
    expect(decoder.decodeResult(call, '0x01')).toBeUndefined()
  })

  it('leaves data beyond MAX_DECODED_BYTES undecoded, and an ABI without functions or events out', () => {
    const abi = [
      { type: 'function', name: 'put', inputs: [{ name: 'data', type: 'bytes' }], outputs: [] },
    ] as const
    const decoder = compileAbi(abi)!
    const fits = encodeFunctionData({
      abi,
      functionName: 'put',
      args: [`0x${'00'.repeat(MAX_DECODED_BYTES - 200)}`],
    })
    const over = encodeFunctionData({
      abi,
      functionName: 'put',
      args: [`0x${'00'.repeat(MAX_DECODED_BYTES)}`],
    })
    expect(decoder.decodeCall(fits)?.name).toBe('put')
    expect(decoder.decodeCall(over)).toBeUndefined()
    expect(compileAbi([])).toBeUndefined()
    expect(compileAbi([{ type: 'constructor', inputs: [] }])).toBeUndefined()
    expect(compileAbi('not an abi')).toBeUndefined()
  })
})
