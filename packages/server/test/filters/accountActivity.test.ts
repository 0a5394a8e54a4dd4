import { encodeAbiParameters, type Hex } from 'viem'
import { describe, expect, it } from 'vitest'
import type { RpcLog } from '../../src/chain/types.js'
import {
  APPROVAL_FOR_ALL_TOPIC,
  APPROVAL_TOPIC,
  logActivity,
  topicAddress,
  USER_OPERATION_TOPIC,
} from '../../src/filters/accountActivity.js'
import {
  TRANSFER_BATCH_TOPIC,
  TRANSFER_SINGLE_TOPIC,
  TRANSFER_TOPIC,
} from '../../src/filters/compileFilter.js'

const me = '0x00000000000000000000000000000000000000aa' as Hex
const them = '0x00000000000000000000000000000000000000bb' as Hex
const token = '0x00000000000000000000000000000000000000cc' as Hex
const topic = (address: Hex) => `0x${address.slice(2).padStart(64, '0')}` as Hex
const word = (n: bigint) => `0x${n.toString(16).padStart(64, '0')}` as Hex
const log = (topics: Hex[], data: Hex = '0x'): RpcLog => ({ address: token, topics, data }) as RpcLog

describe('account activity decoded from logs', () => {
  it('tells ERC-20 from ERC-721 transfers by their topics, and directions by the account', () => {
    expect(logActivity(me, log([TRANSFER_TOPIC, topic(them), topic(me)], word(5n)))).toEqual({
      type: 'token',
      standard: 'erc20',
      token,
      direction: 'in',
      counterparty: them,
      amount: '5',
    })
    expect(logActivity(me, log([TRANSFER_TOPIC, topic(me), topic(me), word(9n)]))).toMatchObject({
      standard: 'erc721',
      direction: 'self',
      tokenId: '9',
    })
  })

  it('decodes ERC-1155 batches and the approvals and user operations an account makes', () => {
    const batch = encodeAbiParameters(
      [{ type: 'uint256[]' }, { type: 'uint256[]' }],
      [
        [1n, 2n],
        [10n, 20n],
      ],
    )
    expect(
      logActivity(me, log([TRANSFER_BATCH_TOPIC, topic(them), topic(me), topic(them)], batch)),
    ).toMatchObject({
      standard: 'erc1155',
      direction: 'out',
      operator: them,
      tokenIds: ['1', '2'],
      amounts: ['10', '20'],
    })
    expect(logActivity(me, log([APPROVAL_FOR_ALL_TOPIC, topic(me), topic(them)], word(1n)))).toMatchObject({
      type: 'approval',
      spender: them,
      approved: true,
    })
    const data = `0x${[7n, 1n, 3n, 4n].map((n) => word(n).slice(2)).join('')}` as Hex
    expect(
      logActivity(me, log([USER_OPERATION_TOPIC, word(1n), topic(me), topic(them)], data)),
    ).toMatchObject({
      type: 'userOp',
      paymaster: them,
      nonce: '7',
      success: true,
    })
  })

  it('makes nothing up from a log that only looks like a followed event', () => {
    const malformed: RpcLog[] = [
      log([TRANSFER_TOPIC, topic(them), topic(me)]), // no amount
      log([TRANSFER_TOPIC, topic(them), topic(me), word(1n), word(2n)]), // five topics
      log([TRANSFER_TOPIC, word(2n ** 200n), topic(me)], word(1n)), // a sender that is no address
      log([TRANSFER_SINGLE_TOPIC, topic(them), topic(them), topic(me)], word(1n)), // half its data
      log([TRANSFER_BATCH_TOPIC, topic(them), topic(them), topic(me)], word(64n)), // a batch that does not decode
      log([APPROVAL_TOPIC, topic(them), topic(me)], word(1n)), // an approval the account receives, not grants
      log([USER_OPERATION_TOPIC, word(1n), topic(me), topic(them)], word(1n)), // short data
    ]
    for (const entry of malformed) expect(logActivity(me, entry)).toBeUndefined()
    expect(topicAddress(undefined)).toBeUndefined()
    expect(topicAddress('0x12')).toBeUndefined()
  })
})
