import type { KyselyPlugin } from 'kysely'
import { expect, it } from 'vitest'
import { migrateToLatest } from '../../src/storage/migrateToLatest.js'
import { describeEachDriver } from '../support/storage.js'

describeEachDriver('migrations', (storage) => {
  it('an already migrated database costs one query', async () => {
    let queries = 0
    const counting: KyselyPlugin = {
      transformQuery: (args) => {
        queries += 1
        return args.node
      },
      transformResult: async (args) => args.result,
    }
    expect(await migrateToLatest({ ...storage(), db: storage().db.withPlugin(counting) })).toEqual([])
    expect(queries).toBe(1)
  })
})
