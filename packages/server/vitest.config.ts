import { defineProject } from 'vitest/config'
import { fromSource } from '../../vitest.shared.js'

export default defineProject({
  ...fromSource,
  test: {
    name: 'server',
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
