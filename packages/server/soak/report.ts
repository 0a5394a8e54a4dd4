import type { DeliveryCheck } from './checkDeliveries.js'
import type { Role } from './roles.js'
import type { SoakResult } from './runSoak.js'

/** The kind of item each producer is judged by: a run in which one of them produced none exercised nothing of it. */
const PRODUCED: Record<Role, string> = {
  filters: 'log',
  accounts: 'account',
  state: 'state',
  submissions: 'submitted-status',
  dormancy: 'gap',
}

/** The producers that produced nothing to judge: no item of their kind held, or nothing expected of them. */
export function idleProducers(result: SoakResult): Role[] {
  return (Object.keys(PRODUCED) as Role[]).filter((role) => {
    const check = result.producers[role]
    return check.expected === 0 || (check.kinds[PRODUCED[role]] ?? 0) === 0
  })
}

const verdict = (check: DeliveryCheck) =>
  `${check.received} received (${Object.entries(check.kinds)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(
      ', ',
    )}), ${check.expected} expected; lost ${check.lost}, duplicated after ack ${check.duplicatedAfterAck}, queued twice ${check.queuedTwice}, wrong ${check.wrong}`

const mean = (values: readonly number[]) =>
  values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length

/** The summary table of a run, in Markdown. */
export function formatReport(result: SoakResult): string {
  const { backend, node, traffic, total } = result
  const reorgs = Object.values(node.reorgs).reduce((sum, count) => sum + count, 0)
  const kinds = new Map<string, number>()
  for (const client of result.clients) kinds.set(client.kind, (kinds.get(client.kind) ?? 0) + 1)
  const sum = (pick: (stats: SoakResult['clients'][number]['stats']) => number) =>
    result.clients.reduce((total, client) => total + pick(client.stats), 0)
  const rows: [string, string | number][] = [
    ['seed', result.seed],
    [
      'backend',
      result.instances > 1
        ? `${result.instances} instances on ${result.storage === 'postgres' ? 'PostgreSQL' : 'PGlite'}, ${result.terms} terms of leadership`
        : `1 instance on ${result.storage === 'postgres' ? 'PostgreSQL' : 'PGlite'}`,
    ],
    ['chaos / settle', `${result.chaosSeconds.toFixed(0)} s / ${result.settleSeconds.toFixed(1)} s`],
    ['blocks judged', `${result.blocks.first}–${result.blocks.last}`],
    [
      'backend kill -9',
      `${backend.kills} (back to ready in ${(mean(backend.recoveryMs) / 1000).toFixed(1)} s mean, ${(Math.max(0, ...backend.recoveryMs) / 1000).toFixed(1)} s max)`,
    ],
    [
      'node restarts',
      `${node.crashRestarts + node.gracefulRestarts} (${node.crashRestarts} kill -9 losing ${node.blocksLost} blocks, ${node.gracefulRestarts} graceful)`,
    ],
    [
      'reorgs by depth',
      `${reorgs}: ${Object.entries(node.reorgs)
        .map(([bucket, count]) => `${bucket}: ${count}`)
        .join(
          ', ',
        )}; ${node.reorgTransfers} transactions placed in new branches; ${node.reorgsSkipped} skipped (too few blocks since the node's restart)`,
    ],
    ['client disconnects', result.disconnects],
    [
      'traffic',
      `${traffic.transfers} transfers, ${traffic.storeWrites} writes of the storage contract, ${traffic.emptyBlocks} empty blocks, ${traffic.failedSteps} steps failed (node down)`,
    ],
    [
      'submissions',
      `${result.submissions.signed} signed, ${result.submissions.accepted} accepted, ${result.submissions.refused} refused or unanswered`,
    ],
    [
      'dormancy',
      `${result.dormancy.made} made dormant (${result.dormancy.failed} admin calls failed), ${result.dormancy.gaps} gaps back-filled`,
    ],
    [
      'contract state',
      `changed in ${result.state.changedBlocks} blocks (${result.state.unreadable} of them no longer served by the node, not required)`,
    ],
    [
      'clients',
      `${result.clients.length} (${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')}); ${sum((s) => s.connections)} connections or polls, ${sum((s) => s.acksConfirmed)} acks confirmed, ${sum((s) => s.errors)} errors seen`,
    ],
    [
      'items checked',
      `${total.received} received (distinct cursors; ${total.removedNotices} of them removed notices), ${total.expected} expected on the final chain`,
    ],
    ...(Object.entries(result.producers).map(([role, check]) => [`producer: ${role}`, verdict(check)]) as [
      string,
      string,
    ][]),
    ['**lost**', total.lost],
    ['**duplicated after ack**', total.duplicatedAfterAck],
    ['**queued twice**', total.queuedTwice],
    ['**wrong**', total.wrong],
  ]
  if (result.chainAlarm) rows.push(['chain alarm', JSON.stringify(result.chainAlarm)])
  if (backend.unexpectedExits.length > 0)
    rows.push(['backend exits nobody asked for', backend.unexpectedExits.join(', ')])
  if (result.failure) rows.push(['**failure**', result.failure])
  if (result.nodeBroken) rows.push(['**the node broke**', result.nodeBroken])
  const idle = idleProducers(result)
  if (idle.length > 0) rows.push(['**producers that produced nothing**', idle.join(', ')])
  return ['| soak | |', '|---|---|', ...rows.map(([name, value]) => `| ${name} | ${value} |`)].join('\n')
}

/** Whether the run passed: judged, every producer exercised, and nothing lost, duplicated or wrong. */
export function passed(result: SoakResult): boolean {
  const { total } = result
  return (
    result.failure === undefined &&
    idleProducers(result).length === 0 &&
    result.clients.every((client) => client.check !== undefined) &&
    total.lost + total.duplicatedAfterAck + total.queuedTwice + total.wrong === 0
  )
}
