import { Counter, type Registry } from 'prom-client'

export type StageReason = 'absent' | 'absent-backlog' | 'absent-work' | 'backlog' | 'admin' | 'retention'

/** Counts clients moving between stages of the abandoned-client policy, by target stage and reason. */
export class StageTransitions {
  readonly #counter: Counter<'to' | 'reason'>

  constructor(metrics: Registry) {
    this.#counter = new Counter({
      name: 'wallet_backend_client_stage_transitions_total',
      help: 'Clients made dormant, pruned or deleted (stage "deleted"), by reason',
      labelNames: ['to', 'reason'],
      registers: [metrics],
    })
  }

  count(to: 'dormant' | 'pruned' | 'deleted', reason: StageReason, clients = 1): void {
    if (clients > 0) this.#counter.inc({ to, reason }, clients)
  }
}
