import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { isCompleteJsonFile } from '../../../src/chain/node/isCompleteJsonFile.js'

const dir = mkdtempSync(join(tmpdir(), 'wb-json-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function check(content: string): Promise<boolean> {
  const file = join(dir, 'file.json')
  writeFileSync(file, content)
  return isCompleteJsonFile(file)
}

describe('isCompleteJsonFile', () => {
  const whole = JSON.stringify({
    block: { number: '0x5', note: 'braces } and ] and an escaped quote \\" inside strings' },
    blocks: [{ hash: '0xab', txs: [] }, { nested: { deeper: [1, 2, { x: '}' }] } }],
    text: 'ünïcödé ✓',
  })

  it('accepts a whole object or array, with surrounding whitespace', async () => {
    expect(await check(whole)).toBe(true)
    expect(await check(`\n  ${whole}\n\n`)).toBe(true)
    expect(await check('[1,2,3]')).toBe(true)
  })

  it('refuses every proper prefix of a document, as a writer dying mid-write leaves it', async () => {
    for (let length = 0; length < whole.length; length++) {
      expect(await check(whole.slice(0, length)), `prefix of ${length}`).toBe(false)
    }
  })

  it('refuses what follows a closed document, and documents that are not containers', async () => {
    expect(await check(`${whole}{`)).toBe(false)
    expect(await check(`${whole}\0\0\0`)).toBe(false)
    expect(await check('"just a string"')).toBe(false)
    expect(await check('42')).toBe(false)
    expect(await check('}')).toBe(false)
  })
})
