import type { Migration, MigrationProvider } from 'kysely'
import * as m0001 from './0001_initial.js'
import * as m0002 from './0002_contract_state_outlives_blocks.js'
import * as m0003 from './0003_submission_tracking.js'
import * as m0004 from './0004_client_backlog_counters.js'
import * as m0005 from './0005_leadership.js'
import * as m0006 from './0006_node_work_usage.js'
import * as m0007 from './0007_shared_cost_accounts.js'
import * as m0008 from './0008_account_interests.js'
import * as m0009 from './0009_unverified_blocks.js'
import * as m0010 from './0010_jsonrpc.js'

/** Every migration, in order. Add new ones at the end; never edit or remove a landed one. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_contract_state_outlives_blocks': m0002,
  '0003_submission_tracking': m0003,
  '0004_client_backlog_counters': m0004,
  '0005_leadership': m0005,
  '0006_node_work_usage': m0006,
  '0007_shared_cost_accounts': m0007,
  '0008_account_interests': m0008,
  '0009_unverified_blocks': m0009,
  '0010_jsonrpc': m0010,
}

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
}
