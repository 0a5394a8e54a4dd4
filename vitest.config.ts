import { defineConfig } from 'vitest/config'

// One run for every package. Files under bench/ are benchmarks, not tests.
export default defineConfig({
  test: {
    projects: ['packages/*'],
  },
})
