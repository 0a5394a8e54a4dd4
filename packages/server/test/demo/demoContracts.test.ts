import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { COMPILED_FILE, compileDemoContracts } from '../../scripts/compileDemoContracts.js'

describe('the demo contracts', () => {
  it('are committed as solc-js compiles their source with the recorded compiler, OpenZeppelin version and settings', () => {
    const committed = JSON.parse(readFileSync(COMPILED_FILE, 'utf8'))
    const compiled = compileDemoContracts()
    expect(Object.keys(compiled.contracts).sort()).toEqual(['DemoCollectible', 'DemoToken'])
    expect(compiled.compiler).toBe(committed.compiler)
    expect(compiled.openzeppelin).toBe(committed.openzeppelin)
    expect(compiled).toEqual(committed)
  }, 120_000)
})
