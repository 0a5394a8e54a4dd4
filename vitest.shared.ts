import type { UserConfig } from 'vitest/config'

/**
 * Tests run the workspace packages from their TypeScript sources (the `source` export condition),
 * so that they need no build first and never see a stale one.
 */
export const fromSource: Pick<UserConfig, 'resolve' | 'ssr'> = {
  resolve: { conditions: ['source', 'module', 'node', 'development|production'] },
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
}
