// The operator console: a page of static files that shows what the admin API answers. The
// admin token is entered once and kept in sessionStorage (this tab only); it is sent as a bearer
// header, never in a URL. Everything shown comes from documented /admin endpoints (see /docs).

const TOKEN_KEY = 'wallet-backend-admin-token'
const PAGE_SIZE = 20
const POLL_MS = 2000

const $ = (id) => document.getElementById(id)

/** A DOM element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (key === 'class') el.className = value
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else el.setAttribute(key, value === true ? '' : value)
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
  return el
}

const SVG = 'http://www.w3.org/2000/svg'
// SVG presentation attributes take plain colours (the stylesheet's variables do not reach them).
const COLOR = {
  accent: '#6ea8fe',
  green: '#3ecf8e',
  amber: '#f5b83d',
  red: '#f26d6d',
  violet: '#b48cff',
  line: '#2a3550',
  muted: '#8d99b3',
}
function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag)
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value)
  return el
}

class Unauthorized extends Error {}

let token = sessionStorage.getItem(TOKEN_KEY)

async function api(path, options = {}) {
  let response
  try {
    response = await fetch(path, {
      ...options,
      headers: {
        authorization: `Bearer ${token}`,
        ...(options.body ? { 'content-type': 'application/json' } : {}),
      },
      cache: 'no-store',
    })
  } catch (error) {
    throw Object.assign(new Error('the backend cannot be reached'), { unreachable: true, cause: error })
  }
  if (response.status === 401) throw new Unauthorized('the admin token was refused')
  const body = response.status === 204 ? null : await response.json().catch(() => null)
  if (!response.ok) {
    const error = new Error(body?.message ?? `HTTP ${response.status}`)
    error.code = body?.code
    error.status = response.status
    throw error
  }
  return body
}

// ---- formatting ---------------------------------------------------------------------------

const fmtNumber = (n, digits = 0) =>
  n === null || n === undefined || Number.isNaN(n)
    ? '–'
    : Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
const shortHex = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : (hex ?? '–'))
function ago(iso) {
  if (!iso) return '–'
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  if (seconds < 60) return `${seconds}s ago`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`
  return `${Math.floor(seconds / 86400)}d ago`
}
function duration(seconds) {
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`
}
const bytes = (n) =>
  n < 1024 ? `${n} B` : n < 1048576 ? `${fmtNumber(n / 1024, 1)} KiB` : `${fmtNumber(n / 1048576, 1)} MiB`
function facts(dl, rows) {
  dl.replaceChildren(
    ...rows.filter(Boolean).flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  )
}

// ---- sign-in ------------------------------------------------------------------------------

function showSignIn(message) {
  $('dashboard').hidden = true
  $('sign-out').hidden = true
  $('sign-in').hidden = false
  $('status-line').replaceChildren()
  $('sign-in-error').hidden = !message
  $('sign-in-error').textContent = message ?? ''
  $('token').focus()
}

$('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault()
  token = $('token').value.trim()
  try {
    await api('/admin/overview')
  } catch (error) {
    token = null
    showSignIn(error instanceof Unauthorized ? 'That admin token was refused.' : error.message)
    return
  }
  sessionStorage.setItem(TOKEN_KEY, token)
  $('token').value = ''
  start()
})

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY)
  token = null
  stop()
  showSignIn()
})

// ---- polling ------------------------------------------------------------------------------

let timer
let failures = 0

function start() {
  $('sign-in').hidden = true
  $('dashboard').hidden = false
  $('sign-out').hidden = false
  loadPlans()
  refreshClients()
  tick()
}

function stop() {
  clearTimeout(timer)
  timer = undefined
}

async function tick() {
  stop()
  try {
    const [overview, series] = await Promise.all([
      api('/admin/overview'),
      api('/admin/metrics/series?seconds=300'),
    ])
    failures = 0
    $('banner').hidden = true
    renderOverview(overview)
    renderCharts(series)
    if (++ticks % 3 === 0) refreshClients()
    if (selected) refreshDetail()
  } catch (error) {
    if (error instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY)
      token = null
      showSignIn('The admin token was refused; sign in again.')
      return
    }
    failures += 1
    $('banner').hidden = false
    $('banner').textContent = `${error.message}; retrying (${failures})…`
  }
  timer = setTimeout(tick, POLL_MS)
}
let ticks = 0

// ---- overview -----------------------------------------------------------------------------

function renderOverview({ health, clients }) {
  $('state').textContent = health.state
  $('state').className = `pill ${health.state}`
  $('state-since').textContent = `since ${ago(health.since)}`
  $('state-reason').textContent = health.reason ?? ''
  facts($('facts-service'), [
    ['Version', health.version],
    ['Uptime', duration(health.uptimeSeconds)],
    ['Chain id', health.node.chainId ?? '–'],
  ])
  const nodeHead = health.chain?.nodeHead
  const head = health.head?.number
  const behind = nodeHead !== undefined && head !== undefined ? nodeHead - head : undefined
  facts($('facts-chain'), [
    [
      'Head',
      h(
        'span',
        { id: 'head-number' },
        fmtNumber(head),
        ' ',
        h('span', { class: 'muted mono' }, shortHex(health.head?.hash)),
      ),
    ],
    ['Safe', fmtNumber(health.safe?.number)],
    ['Finalized', fmtNumber(health.finalized?.number)],
    [
      'Node head',
      h(
        'span',
        {},
        fmtNumber(nodeHead),
        ' ',
        behind !== undefined
          ? h('span', { class: 'muted' }, behind > 0 ? `${behind} behind` : 'in step')
          : null,
      ),
    ],
  ])
  const alarm = health.chain?.alarm
  $('chain-alarm').hidden = !alarm
  $('chain-alarm').textContent = alarm
    ? `Alarm: ${typeof alarm === 'string' ? alarm : JSON.stringify(alarm)}`
    : ''
  const lead = health.leadership
  facts($('facts-cluster'), [
    [
      'Role',
      lead ? h('span', { class: `pill small ${lead.role === 'leader' ? 'ok' : 'warn'}` }, lead.role) : '–',
    ],
    ['Instance', lead?.holder ?? '–'],
    ['Term', lead?.term ?? '–'],
    lead?.leaderUrl ? ['Leader', lead.leaderUrl] : null,
    lead?.lastError ? ['Election error', h('span', { class: 'error' }, lead.lastError)] : null,
    [
      'Storage',
      h(
        'span',
        {},
        health.storage.driver === 'pglite' ? 'PGlite (embedded)' : 'PostgreSQL',
        ' ',
        h(
          'span',
          { class: `pill small ${health.storage.available ? 'ok' : 'bad'}` },
          health.storage.available ? 'up' : 'down',
        ),
      ),
    ],
    [
      'Node',
      `${health.node.mode}${health.chain?.receiptsSource ? ` · receipts via ${health.chain.receiptsSource}` : ''}`,
    ],
  ])
  $('nodes').replaceChildren(
    ...(health.node.endpoints.length === 0
      ? [h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No endpoint yet'))]
      : health.node.endpoints.map((endpoint) =>
          h(
            'tr',
            {},
            h(
              'td',
              { class: 'mono' },
              endpoint.url,
              endpoint.active ? h('span', { class: 'muted' }, '  (active)') : null,
            ),
            h(
              'td',
              {},
              h(
                'span',
                { class: `pill small ${endpoint.healthy ? 'ok' : 'bad'}` },
                endpoint.healthy ? 'healthy' : 'backing off',
              ),
            ),
            h(
              'td',
              {},
              endpoint.lastLatencyMs === undefined ? '–' : `${fmtNumber(endpoint.lastLatencyMs, 1)} ms`,
            ),
            h('td', { class: 'error small' }, endpoint.lastError ?? ''),
          ),
        )),
  )
  const tasks = health.background ?? []
  $('background').replaceChildren(
    ...(tasks.length === 0
      ? [h('p', { class: 'muted' }, 'No back-fill or scan running.')]
      : tasks.map((task) => {
          const share = task.total > 0 ? Math.min(1, task.done / task.total) : 0
          const bar = h('div', { class: 'bar' }, h('span', {}))
          bar.firstChild.style.width = `${(share * 100).toFixed(1)}%`
          return h(
            'div',
            { class: 'task' },
            h(
              'div',
              {},
              h('b', {}, task.kind),
              ' ',
              h(
                'span',
                { class: 'muted small' },
                `${fmtNumber(task.done)} / ${fmtNumber(task.total)} · started ${ago(task.startedAt)}`,
              ),
            ),
            bar,
          )
        })),
  )
  const pruner = health.pruner
  const last = pruner?.lastRun
  $('pruner').replaceChildren(
    ...[
      h('b', {}, 'Pruner'),
      ' ',
      pruner
        ? h(
            'span',
            { class: 'muted' },
            `every ${duration(Math.round(pruner.intervalMs / 1000))}${pruner.running ? ' · running now' : ''}`,
          )
        : h('span', { class: 'muted' }, 'not running on this instance'),
      last
        ? h(
            'div',
            { class: 'muted' },
            `last pass ${ago(last.at ?? last.finishedAt ?? last.startedAt)}: ${Object.entries(last)
              .filter(([, v]) => typeof v === 'number')
              .map(([k, v]) => `${k} ${fmtNumber(v)}`)
              .join(' · ')}`,
          )
        : null,
      pruner?.lastError ? h('div', { class: 'error' }, pruner.lastError) : null,
    ].filter(Boolean),
  )
  if (clients) {
    $('client-counts').textContent =
      `${fmtNumber(clients.total)} · ${fmtNumber(clients.active)} active · ${fmtNumber(clients.dormant)} dormant · ${fmtNumber(clients.pruned)} pruned`
  }
  $('status-line').replaceChildren(
    h('span', {}, 'state ', h('b', { id: 'top-state' }, health.state)),
    h('span', {}, 'head ', h('b', {}, fmtNumber(head))),
    h('span', {}, 'clients ', h('b', {}, clients ? fmtNumber(clients.total) : '–')),
    h('span', {}, 'updated ', h('b', {}, new Date().toLocaleTimeString())),
  )
}

// ---- charts -------------------------------------------------------------------------------

const CHARTS = [
  { id: 'blocks', title: 'Blocks / s', lines: [['blocksPerSecond', 'blocks', COLOR.accent]], digits: 2 },
  {
    id: 'items',
    title: 'Items / s',
    lines: [
      ['itemsQueuedPerSecond', 'queued', COLOR.violet],
      ['itemsDeliveredPerSecond', 'delivered', COLOR.green],
    ],
    digits: 1,
  },
  {
    id: 'latency',
    title: 'Delivery latency',
    unit: ' ms',
    lines: [
      ['deliveryLatencyP50Ms', 'p50', COLOR.green],
      ['deliveryLatencyP99Ms', 'p99', COLOR.amber],
    ],
    digits: 0,
  },
  { id: 'streams', title: 'Open streams', lines: [['openStreams', 'streams', COLOR.accent]], digits: 0 },
  {
    id: 'throttled',
    title: 'Throttled / s',
    lines: [['throttledPerSecond', 'throttled', COLOR.red]],
    digits: 2,
  },
  {
    id: 'calls',
    title: 'Node calls / block',
    lines: [['nodeCallsPerBlock', 'calls', COLOR.amber]],
    digits: 1,
  },
]

function renderCharts({ samples, intervalMs }) {
  const host = $('charts')
  if (host.childElementCount === 0) {
    for (const chart of CHARTS) {
      host.append(
        h(
          'article',
          { class: 'chart', id: `chart-${chart.id}` },
          h('header', {}, h('h3', {}, chart.title), h('span', { class: 'now' }, '–')),
          s('svg', { viewBox: '0 0 300 90', preserveAspectRatio: 'none' }),
          h(
            'div',
            { class: 'legend' },
            ...chart.lines.map(([, label, color]) => {
              const swatch = h('i', {})
              swatch.style.background = color
              return h('span', {}, swatch, label)
            }),
            h('span', { class: 'span' }, ''),
          ),
        ),
      )
    }
  }
  const end = Date.now()
  const span = Math.max(60_000, Math.min(300_000, samples.length * intervalMs))
  for (const chart of CHARTS) {
    const el = $(`chart-${chart.id}`)
    const svg = el.querySelector('svg')
    const values = chart.lines.flatMap(([key]) =>
      samples.map((sample) => sample[key]).filter((v) => v !== null),
    )
    const max = niceMax(Math.max(0, ...values))
    const x = (at) => 300 - ((end - Date.parse(at)) / span) * 300
    const y = (v) => 86 - (v / max) * 80
    const children = [
      s('line', {
        x1: 0,
        x2: 300,
        y1: 6,
        y2: 6,
        stroke: COLOR.line,
        'stroke-dasharray': '2 4',
        'vector-effect': 'non-scaling-stroke',
      }),
      s('line', {
        x1: 0,
        x2: 300,
        y1: 86,
        y2: 86,
        stroke: COLOR.line,
        'vector-effect': 'non-scaling-stroke',
      }),
    ]
    for (const [key, , color] of chart.lines) {
      let d = ''
      let pen = false
      for (const sample of samples) {
        const value = sample[key]
        if (value === null || value === undefined) {
          pen = false
          continue
        }
        d += `${pen ? 'L' : 'M'}${x(sample.at).toFixed(1)},${y(value).toFixed(1)}`
        pen = true
      }
      children.push(
        s('path', {
          d,
          fill: 'none',
          stroke: color,
          'stroke-width': 2,
          'vector-effect': 'non-scaling-stroke',
          'stroke-linejoin': 'round',
        }),
      )
    }
    const maxLabel = s('text', { x: 2, y: 16, fill: COLOR.muted, 'font-size': 9 })
    maxLabel.textContent = fmtNumber(max, 2)
    children.push(maxLabel)
    svg.replaceChildren(...children)
    const latest = samples.at(-1)
    const now = chart.lines
      .map(([key]) => latest?.[key])
      .map((v) => (v === null || v === undefined ? '–' : fmtNumber(v, chart.digits)))
    el.querySelector('.now').textContent =
      `${now.join(' / ')}${chart.unit && now.some((v) => v !== '–') ? chart.unit : ''}`
    el.querySelector('.span').textContent = `last ${Math.round(span / 60000)} min`
  }
}

function niceMax(value) {
  if (value <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(value))
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power
  return 10 * power
}

// ---- clients ------------------------------------------------------------------------------

let page = 0
let selected = null
let plans = []

async function loadPlans() {
  try {
    plans = Object.keys((await api('/admin/plans')).plans)
    const select = $('client-plan')
    select.replaceChildren(
      h('option', { value: '' }, 'All plans'),
      ...plans.map((plan) => h('option', { value: plan }, plan)),
    )
  } catch {}
}

function clientQuery() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE + 1), offset: String(page * PAGE_SIZE) })
  const search = $('client-search').value.trim()
  if (/^(0x)?[0-9a-fA-F]{1,40}$/.test(search)) params.set('idPrefix', search)
  if ($('client-stage').value) params.set('stage', $('client-stage').value)
  if ($('client-plan').value) params.set('plan', $('client-plan').value)
  return params
}

let clientsSeq = 0
async function refreshClients() {
  const seq = ++clientsSeq
  const search = $('client-search').value.trim()
  const valid = search === '' || /^(0x)?[0-9a-fA-F]{1,40}$/.test(search)
  $('client-search').setCustomValidity(valid ? '' : 'hex digits only')
  let clients
  try {
    clients = (await api(`/admin/clients?${clientQuery()}`)).clients
  } catch (error) {
    if (error instanceof Unauthorized) return
    return
  }
  if (seq !== clientsSeq) return
  const more = clients.length > PAGE_SIZE
  const rows = clients.slice(0, PAGE_SIZE)
  $('clients').replaceChildren(
    ...(rows.length === 0
      ? [
          h(
            'tr',
            {},
            h(
              'td',
              { colspan: 7, class: 'empty' },
              valid ? 'No client matches.' : 'Search by hex digits of a client id.',
            ),
          ),
        ]
      : rows.map((client) =>
          h(
            'tr',
            {
              class: client.id === selected ? 'selected' : '',
              'data-client': client.id,
              onclick: () => select(client.id),
            },
            h('td', { class: 'mono', title: client.id }, shortHex(client.id)),
            h('td', {}, h('span', { class: `pill small ${client.stage}` }, client.stage)),
            h('td', {}, client.plan),
            h('td', { class: 'num' }, fmtNumber(client.usage.requests)),
            h('td', { class: 'num' }, fmtNumber(client.usage.itemsQueued)),
            h('td', { class: 'num' }, `${fmtNumber(client.backlog.items)} · ${bytes(client.backlog.bytes)}`),
            h('td', { title: client.lastSeenAt }, ago(client.lastSeenAt)),
          ),
        )),
  )
  $('prev-page').disabled = page === 0
  $('next-page').disabled = !more
  $('page-label').textContent = `page ${page + 1}`
}

let searchTimer
$('client-search').addEventListener('input', () => {
  clearTimeout(searchTimer)
  searchTimer = setTimeout(() => {
    page = 0
    refreshClients()
  }, 250)
})
for (const id of ['client-stage', 'client-plan'])
  $(id).addEventListener('change', () => {
    page = 0
    refreshClients()
  })
$('prev-page').addEventListener('click', () => {
  page = Math.max(0, page - 1)
  refreshClients()
})
$('next-page').addEventListener('click', () => {
  page += 1
  refreshClients()
})

// ---- one client ---------------------------------------------------------------------------

function select(id) {
  selected = id
  for (const row of document.querySelectorAll('#clients tr'))
    row.classList.toggle('selected', row.dataset.client === id)
  refreshDetail(true)
}

let notice = null
async function refreshDetail(scroll = false) {
  const id = selected
  let client
  let details
  try {
    ;[client, details] = await Promise.all([api(`/admin/clients/${id}`), api(`/admin/clients/${id}/details`)])
  } catch (error) {
    if (error instanceof Unauthorized || error.unreachable) return
    notice = { error: true, text: error.message }
    return
  }
  if (id !== selected) return
  renderDetail(client, details)
  if (scroll) $('client-detail').scrollIntoView({ behavior: 'smooth', block: 'start' })
}

function renderDetail(client, details) {
  const panel = $('client-detail')
  panel.hidden = false
  const planSelect = h(
    'select',
    { id: 'plan-select' },
    ...plans.map((plan) => h('option', { value: plan, selected: plan === client.plan }, plan)),
  )
  const usage = Object.entries(client.usage).map(([key, value]) => [
    key,
    `${fmtNumber(value)}${client.limits?.[key] !== undefined ? ` / ${fmtNumber(client.limits[key])}` : ''}`,
  ])
  panel.replaceChildren(
    h(
      'div',
      { class: 'detail-head' },
      h(
        'div',
        {},
        h('h2', {}, 'Client'),
        h('div', { class: 'detail-id mono' }, client.id),
        h(
          'div',
          { class: 'muted small' },
          'stage ',
          h('span', { id: 'detail-stage', class: `pill small ${client.stage}` }, client.stage),
          ` since ${ago(client.stageChangedAt)} · plan ${client.plan} · created ${ago(client.createdAt)} · last seen ${ago(client.lastSeenAt)}`,
        ),
      ),
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            id: 'make-dormant',
            disabled: client.stage !== 'active',
            onclick: () => act(client.id, 'dormant'),
          },
          'Make dormant',
        ),
        h(
          'button',
          {
            id: 'prune',
            class: 'danger',
            disabled: client.stage === 'pruned',
            onclick: () => act(client.id, 'prune'),
          },
          'Prune',
        ),
        planSelect,
        h(
          'button',
          { id: 'change-plan', onclick: () => act(client.id, 'plan', planSelect.value) },
          'Change plan',
        ),
        h(
          'button',
          {
            class: 'ghost',
            onclick: () => {
              selected = null
              panel.hidden = true
              refreshClients()
            },
          },
          'Close',
        ),
      ),
    ),
    notice
      ? h('p', { class: `notice ${notice.error ? 'error' : 'muted'}`, id: 'detail-notice' }, notice.text)
      : null,
    h(
      'div',
      { class: 'detail-grid' },
      h(
        'div',
        {},
        h('h4', {}, `Interests (${details.interests.length})`),
        details.interests.length === 0 ? h('p', { class: 'muted' }, 'None.') : null,
        ...details.interests.map((interest) =>
          h(
            'div',
            { class: 'interest' },
            h(
              'div',
              {},
              h('span', { class: 'mono' }, interest.address),
              ' ',
              h(
                'span',
                { class: `pill small ${interest.deployed ? 'ok' : 'warn'}` },
                interest.deployed ? 'deployed' : 'not deployed',
              ),
            ),
            h(
              'div',
              { class: 'tags' },
              ...interest.filters.map((filter) =>
                h(
                  'span',
                  { class: 'tag' },
                  `filter #${filter.id} ${filter.code}${filter.args.length ? `(${filter.args.map((a) => JSON.stringify(a)).join(', ')})` : ''}`,
                ),
              ),
              ...interest.watches.map((watch) =>
                h(
                  'span',
                  { class: 'tag' },
                  `watch #${watch.id} ${watch.kind}${watch.args.length ? `(${watch.args.map((a) => shortHex(String(a))).join(', ')})` : ''}`,
                ),
              ),
              interest.startBlock !== null
                ? h('span', { class: 'tag' }, `from block ${interest.startBlock}`)
                : null,
              interest.backfill
                ? h(
                    'span',
                    { class: 'tag' },
                    `back-fill ${interest.backfill.status} ${interest.backfill.nextBlock}/${interest.backfill.toBlock}`,
                  )
                : null,
            ),
          ),
        ),
        h('h4', {}, `Accounts (${details.accounts.length})`),
        details.accounts.length === 0 ? h('p', { class: 'muted' }, 'None.') : null,
        ...details.accounts.map((account) =>
          h(
            'div',
            { class: 'interest' },
            h('span', { class: 'mono' }, account.address),
            h('div', { class: 'tags' }, ...account.activity.map((kind) => h('span', { class: 'tag' }, kind))),
          ),
        ),
      ),
      h(
        'div',
        {},
        h('h4', {}, 'Backlog'),
        h(
          'dl',
          { class: 'facts', id: 'detail-backlog' },
          h('dt', {}, 'Unacknowledged'),
          h('dd', {}, `${fmtNumber(details.backlog.items)} items · ${bytes(details.backlog.bytes)}`),
          h('dt', {}, 'Cursors'),
          h('dd', {}, `acked ${details.backlog.ackedCursor} · next ${details.backlog.nextCursor}`),
          h('dt', {}, 'Oldest'),
          h('dd', {}, details.backlog.oldestQueuedAt ? ago(details.backlog.oldestQueuedAt) : '–'),
          h('dt', {}, 'By kind'),
          h(
            'dd',
            {},
            Object.entries(details.backlog.byKind)
              .map(([kind, n]) => `${kind} ${n}`)
              .join(' · ') || '–',
          ),
        ),
        h('h4', { class: 'spaced' }, 'Usage'),
        h(
          'dl',
          { class: 'facts' },
          ...usage.flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, value)]),
        ),
      ),
    ),
  )
}

const ACTIONS = {
  dormant: {
    title: 'Make this client dormant?',
    text: 'Nothing more is matched or queued for it. It gets a gap item when it is back, and its next sign-in wakes it.',
    run: (id) => api(`/admin/clients/${id}/dormant`, { method: 'POST' }),
  },
  prune: {
    title: 'Prune this client?',
    text: 'Everything it owns is deleted but its identity, usage and wallet state. This cannot be undone.',
    run: (id) => api(`/admin/clients/${id}/prune`, { method: 'POST' }),
  },
  plan: {
    title: 'Change the plan?',
    text: 'The new plan applies from its next request on.',
    run: (id, plan) => api(`/admin/clients/${id}/plan`, { method: 'PUT', body: JSON.stringify({ plan }) }),
  },
}

function confirmAction(title, text) {
  const dialog = $('confirm')
  $('confirm-title').textContent = title
  $('confirm-text').textContent = text
  dialog.returnValue = ''
  dialog.showModal()
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }),
  )
}

async function act(id, action, arg) {
  const { title, text, run } = ACTIONS[action]
  const extra = action === 'plan' ? ` (${arg})` : ''
  if (!(await confirmAction(`${title}${extra}`, `${shortHex(id)}: ${text}`))) return
  try {
    const result = await run(id, arg)
    notice = {
      text: action === 'plan' ? `Plan changed to ${result.plan}.` : `The client is now ${result.stage}.`,
    }
  } catch (error) {
    notice = { error: true, text: `${error.code ?? 'ERROR'}: ${error.message}` }
  }
  await refreshDetail()
  refreshClients()
}

// ---- start --------------------------------------------------------------------------------

if (token) start()
else showSignIn()
