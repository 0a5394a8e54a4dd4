import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { helpText } from '../../src/cli/helpText.js'
import { parseCliArgs } from '../../src/cli/parseCliArgs.js'
import { ConfigError } from '../../src/config/ConfigError.js'
import { loadConfig, redactConfig } from '../../src/config/loadConfig.js'
import { BUILT_IN_DEFAULT_PLAN, PLAN_QUOTA_TABLE, PLAN_QUOTAS } from '../../src/config/planQuotas.js'
import { SETTINGS } from '../../src/config/settings.js'
import { settingsTable } from '../../src/config/settingsTable.js'

function configFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'wb-config-')), 'config.json')
  writeFileSync(path, content)
  return path
}

function expectConfigError(run: () => unknown, ...fragments: string[]): ConfigError {
  let caught: unknown
  try {
    run()
  } catch (error) {
    caught = error
  }
  expect(caught).toBeInstanceOf(ConfigError)
  const error = caught as ConfigError
  expect(error.code).toBe('CONFIG_INVALID')
  for (const fragment of fragments) expect(error.message).toContain(fragment)
  return error
}

describe('loadConfig', () => {
  it('gives defaults that start an embedded service', () => {
    const config = loadConfig()
    expect(config.nodeUrls).toEqual([])
    expect(config.databaseUrl).toBeUndefined()
    expect(config.port).toBe(8080)
    expect(config.logLevel).toBe('info')
  })

  it('lets flags win over the environment, and the environment over the file', () => {
    const file = configFile(JSON.stringify({ port: 9001, logLevel: 'debug', host: '0.0.0.0' }))
    const config = loadConfig({
      configFile: file,
      env: { WALLET_BACKEND_PORT: '9002', WALLET_BACKEND_LOG_LEVEL: 'warn' },
      flags: { port: '9003' },
    })
    expect(config.port).toBe(9003)
    expect(config.logLevel).toBe('warn')
    expect(config.host).toBe('0.0.0.0')
  })

  it('parses node URL lists from the environment and from repeated flags', () => {
    expect(loadConfig({ env: { WALLET_BACKEND_NODE_URLS: 'http://a:8545, ws://b:8546' } }).nodeUrls).toEqual([
      'http://a:8545',
      'ws://b:8546',
    ])
    const args = parseCliArgs(['start', '--node-url', 'http://a:1', '--node-url', 'wss://b/x'])
    expect(loadConfig({ flags: args.flags }).nodeUrls).toEqual(['http://a:1', 'wss://b/x'])
  })

  it('names the bad setting, its source and what is allowed', () => {
    expectConfigError(
      () => loadConfig({ env: { WALLET_BACKEND_PORT: 'eighty' } }),
      'port',
      'WALLET_BACKEND_PORT',
      'integer from 0 to 65535',
    )
    expectConfigError(() => loadConfig({ flags: { port: '70000' } }), '--port')
    expectConfigError(() => loadConfig({ flags: { 'log-level': 'loud' } }), 'logLevel', 'fatal, error, warn')
    expectConfigError(
      () => loadConfig({ flags: { 'node-url': ['ftp://x'] } }),
      'nodeUrls',
      'http or https or ws or wss',
    )
    expectConfigError(() => loadConfig({ flags: { 'database-url': 'mysql://x' } }), 'databaseUrl', 'postgres')
    expectConfigError(() => loadConfig({ flags: { 'admin-token': 'short' } }), 'adminToken', 'at least 16')
  })

  it('refuses unknown keys and broken JSON in the config file', () => {
    expectConfigError(() => loadConfig({ configFile: configFile('{"prot": 1}') }), 'prot', 'unknown setting')
    expectConfigError(() => loadConfig({ configFile: configFile('{not json') }), 'not valid JSON')
    expectConfigError(() => loadConfig({ configFile: configFile('[1]') }), 'JSON object')
    expectConfigError(() => loadConfig({ configFile: '/nonexistent/wallet-backend.json' }), 'cannot read')
    expectConfigError(() => loadConfig({ configFile: configFile('{"port": "x"}') }), 'port', 'config file')
  })

  it('redacts secrets for logs and crash records', () => {
    const config = loadConfig({
      flags: {
        'database-url': 'postgres://user:hunter2@db/wallet',
        'node-url': ['https://rpc.example/v2?key=abcdef'],
        'admin-token': 'a-very-long-admin-token',
      },
    })
    const shown = JSON.stringify(redactConfig(config))
    expect(shown).not.toContain('hunter2')
    expect(shown).not.toContain('abcdef')
    expect(shown).not.toContain('a-very-long-admin-token')
    expect(shown).toContain('rpc.example')
  })
})

describe('parseCliArgs', () => {
  it('defaults to start and knows the commands', () => {
    expect(parseCliArgs([]).command).toBe('start')
    expect(parseCliArgs(['migrate']).command).toBe('migrate')
    expect(parseCliArgs(['--version']).command).toBe('version')
    expect(parseCliArgs(['start', '--help']).command).toBe('help')
  })

  it('refuses unknown commands and flags by name', () => {
    expectConfigError(() => parseCliArgs(['launch']), 'unknown command "launch"')
    expectConfigError(() => parseCliArgs(['start', '--prot', '1']), '--prot')
    expectConfigError(() => parseCliArgs(['start', 'extra']), 'unexpected argument "extra"')
  })
})

describe('helpText', () => {
  it('prints object defaults (plans, request costs) as JSON an operator can copy', () => {
    const text = helpText()
    expect(text).not.toContain('[object Object]')
    const defaultOf = (env: string) =>
      text
        .split('\n')
        .find((line) => line.includes(`${env}; allowed:`))
        ?.split('; default: ')[1]
    expect(JSON.parse(defaultOf('WALLET_BACKEND_REQUEST_COSTS') ?? '')).toEqual(loadConfig({}).requestCosts)
    expect(JSON.parse(defaultOf('WALLET_BACKEND_PLANS') ?? '')).toEqual({})
  })
})

describe('docs/configuration.md', () => {
  it('shows exactly the declared settings (regenerate with scripts/write-configuration-doc.ts)', () => {
    const doc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8')
    expect(doc).toContain(settingsTable())
  })

  it('reads plans as JSON and refuses unknown quotas, bad values and bad names', () => {
    const config = loadConfig({ flags: { plans: '{"pro":{"interests":500,"costBurst":9000}}' } })
    expect(config.plans.pro).toEqual({ ...BUILT_IN_DEFAULT_PLAN, interests: 500, costBurst: 9000 })
    expect(config.plans.default).toEqual(BUILT_IN_DEFAULT_PLAN)
    expectConfigError(
      () => loadConfig({ flags: { plans: '{"pro":{"intrests":5}}' } }),
      'plans',
      'unknown quota',
    )
    expectConfigError(
      () => loadConfig({ flags: { plans: '{"pro":{"interests":-1}}' } }),
      'non-negative integer',
    )
    expectConfigError(() => loadConfig({ flags: { plans: '{"Pro Plan":{}}' } }), 'plan name')
    expectConfigError(() => loadConfig({ flags: { plans: '{' } }), 'not valid JSON')
  })

  it('folds the quota shorthands into the plan default, which a default entry of plans changes further', () => {
    const config = loadConfig({
      env: { WALLET_BACKEND_CLIENT_COST_BURST: '900' },
      flags: {
        'max-interests-per-client': '7',
        'max-streams-per-client': '2',
        plans: '{"default":{"streams":3},"pro":{"interests":500}}',
      },
    })
    expect(config.plans.default).toEqual({
      ...BUILT_IN_DEFAULT_PLAN,
      interests: 7,
      streams: 3,
      costBurst: 900,
    })
    // Another plan fills in from the resolved default plan, shorthands included.
    expect(config.plans.pro).toEqual({ ...config.plans.default, interests: 500 })
    // Quotas are read from plans only: the shorthands leave no setting of their own behind.
    expect(config).not.toHaveProperty('maxInterestsPerClient')
    expect(Object.keys(config)).not.toContain('clientCostBurst')
    expectConfigError(
      () => loadConfig({ flags: { 'max-backlog-items': '5' } }),
      'maxBacklogItems',
      '--max-backlog-items',
      'integer from 10 to 100000000',
    )
  })

  it('declares each quota of the default plan once, with a shorthand setting for it', () => {
    const shorthands = SETTINGS.filter((setting) =>
      PLAN_QUOTAS.some((quota) => PLAN_QUOTA_TABLE[quota].key === setting.key),
    )
    expect(shorthands.map((setting) => setting.default)).toEqual(
      PLAN_QUOTAS.map((quota) => BUILT_IN_DEFAULT_PLAN[quota]),
    )
    for (const setting of shorthands) expect(setting.description).toContain('of the plan "default"')
  })

  it('reads request costs by route class, keeping the defaults of the classes left out', () => {
    expect(loadConfig({}).requestCosts).toEqual({ read: 1, write: 3, auth: 5, stream: 5, proof: 5 })
    expect(loadConfig({ flags: { 'request-costs': '{"proof":20,"read":0}' } }).requestCosts).toEqual({
      read: 0,
      write: 3,
      auth: 5,
      stream: 5,
      proof: 20,
    })
    expectConfigError(
      () => loadConfig({ flags: { 'request-costs': '{"reads":1}' } }),
      'request-costs',
      'unknown route class',
    )
    expectConfigError(
      () => loadConfig({ flags: { 'request-costs': '{"write":1.5}' } }),
      'integer from 0 to 10000',
    )
    expectConfigError(() => loadConfig({ flags: { 'request-costs': '[1]' } }), 'JSON object')
  })
})
