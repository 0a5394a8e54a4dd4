import { defineProject } from 'vitest/config'
import { fromSource } from '../../vitest.shared.js'

export default defineProject({
  ...fromSource,
  test: {
    name: 'sdk',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
