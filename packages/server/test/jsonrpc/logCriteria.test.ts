import { describe, expect, it } from 'vitest'
import { matchesLog, parseLogCriteria } from '../../src/jsonrpc/logCriteria.js'

const A = '0x00000000000000000000000000000000000000aa'
const B = '0x00000000000000000000000000000000000000bB'
const t = (n: number) => `0x${n.toString(16).padStart(64, '0')}`
const log = (address: string, ...topics: string[]) => ({ address, topics })

describe('JSON-RPC log criteria, as geth takes them', () => {
  it('selects by one or several addresses, any address when none is given, case-insensitively', () => {
    expect(matchesLog(parseLogCriteria({ address: A }), log(A.toUpperCase().replace('0X', '0x')))).toBe(true)
    expect(matchesLog(parseLogCriteria({ address: [A, B] }), log(B.toLowerCase()))).toBe(true)
    expect(matchesLog(parseLogCriteria({ address: A }), log(B))).toBe(false)
    expect(matchesLog(parseLogCriteria({}), log(B))).toBe(true)
    expect(matchesLog(parseLogCriteria(undefined), log(B))).toBe(true)
  })

  it('matches topics by position: null is any value, a list is any of its values, a missing position never matches', () => {
    const criteria = parseLogCriteria({ topics: [t(1), null, [t(3), t(4)]] })
    expect(matchesLog(criteria, log(A, t(1), t(9), t(4)))).toBe(true)
    expect(matchesLog(criteria, log(A, t(1), t(9), t(5)))).toBe(false)
    expect(matchesLog(criteria, log(A, t(2), t(9), t(3)))).toBe(false)
    expect(matchesLog(criteria, log(A, t(1), t(9)))).toBe(false)
    expect(matchesLog(parseLogCriteria({ topics: [[]] }), log(A, t(1)))).toBe(false)
  })

  it('refuses malformed criteria with -32602', () => {
    for (const bad of [
      { address: '0x12' },
      { address: [A, 5] },
      { topics: 'x' },
      { topics: ['0x1234'] },
      { topics: [null, null, null, null, null] },
      [],
      'x',
    ])
      expect(() => parseLogCriteria(bad)).toThrow(expect.objectContaining({ rpcCode: -32602 }))
  })
})
