import type { Logger } from 'pino'
import { Counter, Gauge, type Registry } from 'prom-client'

export type TaskProgress = {
  id: string
  kind: string
  startedAt: string
  /** Units done and the total, in the task's own units (blocks for scans). */
  done: number
  total: number
  detail?: Record<string, unknown>
}

/** A task that gave up, as /health shows it for an operator to act on. */
export type FailedTask = TaskProgress & { failedAt: string; error: string }

export type TaskHandle = {
  progress(done: number, detail?: Record<string, unknown>): void
  finish(): void
  /** Gave up: the work will not be done unless someone acts (kept in `failed()` for a while). */
  fail(error: unknown): void
  /** Ended without giving up (stopping, or a retry to come); it is started again to go on. */
  interrupt(reason: string): void
}

/** Failed tasks kept for /health, newest last. */
const FAILED_KEPT = 20

/**
 * Long maintenance work (back-fills, pruning) registers here: it runs in the background, and
 * /health, the metrics and the logs show what is running and how far it got (docs/architecture.md, Lifecycle).
 */
export class BackgroundTasks {
  readonly #tasks = new Map<string, TaskProgress>()
  readonly #failed: FailedTask[] = []
  readonly #log: Logger
  readonly #running: Gauge<'kind'>
  readonly #units: Counter<'kind'>
  readonly #ended: Counter<'kind' | 'outcome'>
  #next = 1

  constructor(options: { logger: Logger; metrics: Registry }) {
    this.#log = options.logger.child({ component: 'background' })
    const registers = [options.metrics]
    this.#running = new Gauge({
      name: 'wallet_backend_background_tasks',
      help: 'Background tasks running, by kind',
      labelNames: ['kind'],
      registers,
    })
    this.#units = new Counter({
      name: 'wallet_backend_background_progress_total',
      help: 'Units of work done by background tasks (blocks for scans), by kind',
      labelNames: ['kind'],
      registers,
    })
    this.#ended = new Counter({
      name: 'wallet_backend_background_tasks_ended_total',
      help: 'Background tasks ended, by kind and outcome',
      labelNames: ['kind', 'outcome'],
      registers,
    })
  }

  /** The tasks running now. */
  list(): TaskProgress[] {
    return [...this.#tasks.values()].map((task) => ({ ...task }))
  }

  /** The last tasks that gave up, oldest first. */
  failed(): FailedTask[] {
    return this.#failed.map((task) => ({ ...task }))
  }

  start(kind: string, total: number, detail?: Record<string, unknown>): TaskHandle {
    const id = `${kind}-${this.#next++}`
    const task: TaskProgress = {
      id,
      kind,
      startedAt: new Date().toISOString(),
      done: 0,
      total,
      ...(detail ? { detail } : {}),
    }
    this.#tasks.set(id, task)
    this.#running.inc({ kind })
    this.#log.info({ task: id, total, ...detail }, `${kind} started`)
    let lastLogged = 0
    const end = (outcome: 'done' | 'failed' | 'interrupted', error?: unknown) => {
      if (!this.#tasks.delete(id)) return
      this.#running.dec({ kind })
      this.#ended.inc({ kind, outcome })
      if (outcome === 'done') this.#log.info({ task: id, done: task.done }, `${kind} finished`)
      else if (outcome === 'interrupted')
        this.#log.info({ task: id, done: task.done, reason: error }, `${kind} interrupted`)
      else {
        this.#log.error({ task: id, done: task.done, err: error }, `${kind} failed`)
        const message = error instanceof Error ? error.message : String(error)
        this.#failed.push({ ...task, failedAt: new Date().toISOString(), error: message.slice(0, 500) })
        if (this.#failed.length > FAILED_KEPT) this.#failed.shift()
      }
    }
    return {
      progress: (done, more) => {
        this.#units.inc({ kind }, Math.max(0, done - task.done))
        task.done = done
        if (more) task.detail = { ...task.detail, ...more }
        if (Date.now() - lastLogged > 5_000) {
          lastLogged = Date.now()
          this.#log.info({ task: id, done, total: task.total }, `${kind} progress`)
        }
      },
      finish: () => end('done'),
      fail: (error) => end('failed', error),
      interrupt: (reason) => end('interrupted', reason),
    }
  }
}
