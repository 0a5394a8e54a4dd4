import { defineConfig } from 'vitest/config'

// One run for every package. Files under bench/ are benchmarks, not tests.
export default defineConfig({
  test: {
    projects: ['packages/*'],
    // Vitest's default on two cores is one file at a time, yet most files spend their time waiting
    // on child processes (anvil, the backend, Chromium) and blocks: three at once keep both cores
    // busy without starving any of them.
    maxWorkers: 3,
    minWorkers: 1,
  },
})
