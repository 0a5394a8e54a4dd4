import { randomBytes, randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { DedicatedSession, Storage } from '../../storage/openStorage.js'
import { type LeadershipRecord, readLeadership, takeTerm } from './leadershipStore.js'

/** Advisory-lock namespace of wallet-backend; the second key is the schema, so schemas don't contend. */
const LOCK_CLASS = 0x77_62_65_00

export type Role =
  | { kind: 'leader'; term: number; secret: string }
  | { kind: 'standby'; leader: LeadershipRecord | undefined }

export type LeaderElectionOptions = {
  storage: Storage
  /** Where standbys reach this instance when it leads. */
  url: string
  logger: Logger
  /** How often a standby tries for the lock (and refreshes what it knows of the leader). */
  retryMs: number
  /** Runs when this instance is elected; it follows the chain from here. */
  onElected(term: number): Promise<void>
  /** After each attempt that left this instance a standby, with what it read of the leader. */
  onStandby(leader: LeadershipRecord): void
  /** Runs when it is no longer the leader; must stop everything that writes as the leader. */
  onDeposed(reason: string): Promise<void>
}

/**
 * One leader among the instances sharing a database (docs/architecture.md, Several instances): the holder of a session-scoped
 * PostgreSQL advisory lock, taken on a connection of its own. The lock goes with the session, so a
 * leader that dies, or whose connection the database drops, frees it for a standby within
 * `retryMs`. Each election bumps a term (see LeadershipFence). On PGlite only one process can open
 * the database: it leads, without a lock.
 */
export class LeaderElection {
  readonly holder = randomUUID()
  readonly #options: LeaderElectionOptions
  readonly #log: Logger
  #role: Role = { kind: 'standby', leader: undefined }
  #session: DedicatedSession | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #running: Promise<void> = Promise.resolve()
  #lastError: string | undefined

  constructor(options: LeaderElectionOptions) {
    this.#options = options
    this.#log = options.logger.child({ component: 'leadership' })
  }

  get role(): Role {
    return this.#role
  }

  get lastError(): string | undefined {
    return this.#lastError
  }

  start(): void {
    this.#schedule(0)
  }

  /** Steps down (the lock is released at once, so a standby takes over without waiting for a timeout). */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    await this.#running
    if (this.#role.kind === 'leader') await this.#depose('stopping', 'info')
    await this.#closeSession()
  }

  /** Called when a commit found its term over: gives up the lock, and stands by. */
  async resign(reason: string): Promise<void> {
    if (this.#role.kind !== 'leader') return
    await this.#closeSession()
    await this.#depose(reason)
    this.#schedule(this.#options.retryMs)
  }

  #schedule(ms: number): void {
    if (this.#stopped) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      const step = this.#role.kind === 'leader' ? this.#heartbeat() : this.#attempt()
      this.#running = step.finally(() => {
        if (this.#role.kind === 'standby' || this.#session) this.#schedule(this.#options.retryMs)
      })
    }, ms)
    this.#timer.unref()
  }

  async #attempt(): Promise<void> {
    const { storage } = this.#options
    try {
      if (!storage.openSession) return await this.#elect()
      this.#session ??= await this.#openSession(storage.openSession)
      const [row] = await this.#session.query<{ locked: boolean }>(
        'select pg_try_advisory_lock($1, hashtext(current_schema())) as locked',
        [LOCK_CLASS],
      )
      if (row?.locked) return await this.#elect()
      const leader = await readLeadership(storage.db)
      this.#role = { kind: 'standby', leader }
      this.#lastError = undefined
      this.#options.onStandby(leader)
    } catch (error) {
      this.#lastError = (error as Error).message
      this.#log.warn(
        { err: error },
        'leader election: cannot reach the database or take office; trying again',
      )
      await this.#closeSession()
      if (this.#role.kind === 'leader') await this.#depose(this.#lastError)
    }
  }

  /**
   * A leader's lock session is asked to answer now and then: a connection that died without a
   * word (a half-open TCP connection) would otherwise go unnoticed while the database, having
   * dropped it, lets a standby take the lock.
   */
  async #heartbeat(): Promise<void> {
    const session = this.#session
    if (!session) return
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error('the lock session does not answer')),
        this.#options.retryMs * 5,
      ).unref(),
    )
    try {
      await Promise.race([session.query('select 1'), timeout])
    } catch (error) {
      if (this.#session !== session) return
      this.#log.error({ err: error }, 'the lock session does not answer: stepping down')
      await this.#closeSession()
      await this.#depose(`lock session lost: ${(error as Error).message}`)
    }
  }

  /** Forgets the lock session before closing it, so that its `lost` is not taken for a loss. */
  async #closeSession(): Promise<void> {
    const session = this.#session
    this.#session = undefined
    await session?.close()
  }

  async #openSession(open: () => Promise<DedicatedSession>): Promise<DedicatedSession> {
    const session = await open()
    void session.lost.then((error) => {
      if (this.#session !== session) return
      this.#session = undefined
      if (this.#role.kind === 'leader') {
        this.#log.error({ err: error }, 'the lock session is lost: stepping down')
        void this.#depose(`lock session lost: ${error.message}`).then(() =>
          this.#schedule(this.#options.retryMs),
        )
      }
    })
    return session
  }

  async #elect(): Promise<void> {
    if (this.#stopped) return
    const secret = randomBytes(32).toString('base64url')
    const term = await takeTerm(this.#options.storage.db, {
      holder: this.holder,
      url: this.#options.url,
      secret,
    })
    this.#role = { kind: 'leader', term, secret }
    this.#lastError = undefined
    this.#log.info({ term, holder: this.holder }, 'elected: this instance follows the chain')
    await this.#options.onElected(term)
  }

  /** `level`: losing the lead is worth a warning, stepping down to stop is not. */
  async #depose(reason: string, level: 'info' | 'warn' = 'warn'): Promise<void> {
    const term = this.#role.kind === 'leader' ? this.#role.term : undefined
    this.#role = { kind: 'standby', leader: undefined }
    this.#log[level]({ term, reason }, 'no longer the leader')
    await this.#options.onDeposed(reason)
  }
}
