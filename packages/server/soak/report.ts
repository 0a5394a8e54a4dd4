import type { SoakResult } from './runSoak.js'

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
        )}; ${node.reorgTransfers} transfers placed in new branches; ${node.reorgsSkipped} skipped (too few blocks since the node's restart)`,
    ],
    ['client disconnects', result.disconnects],
    [
      'traffic',
      `${traffic.transfers} transfers, ${traffic.emptyBlocks} empty blocks, ${traffic.failedSteps} steps failed (node down)`,
    ],
    [
      'clients',
      `${result.clients.length} (${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(', ')}); ${sum((s) => s.connections)} connections or polls, ${sum((s) => s.acksConfirmed)} acks confirmed, ${sum((s) => s.errors)} errors seen`,
    ],
    [
      'items checked',
      `${total.received} received (distinct cursors; ${total.removedNotices} of them removed notices), ${total.expected} expected on the final chain`,
    ],
    ['**lost**', total.lost],
    ['**duplicated after ack**', total.duplicatedAfterAck],
    ['**queued twice**', total.queuedTwice],
    ['**wrong**', total.wrong],
  ]
  if (result.chainAlarm) rows.push(['chain alarm', JSON.stringify(result.chainAlarm)])
  if (backend.unexpectedExits.length > 0)
    rows.push(['backend exits nobody asked for', backend.unexpectedExits.join(', ')])
  if (result.failure) rows.push(['**failure**', result.failure])
  return ['| soak | |', '|---|---|', ...rows.map(([name, value]) => `| ${name} | ${value} |`)].join('\n')
}

/** Whether the run passed: judged, and nothing lost, duplicated or wrong. */
export function passed(result: SoakResult): boolean {
  const { total } = result
  return (
    result.failure === undefined &&
    result.clients.every((client) => client.check !== undefined) &&
    total.lost + total.duplicatedAfterAck + total.queuedTwice + total.wrong === 0
  )
}
