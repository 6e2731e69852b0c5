// The live view: resume after a dropped watch, relist after 410 Gone, readiness and staleness.
import t, { type Test } from 'tap'
import pino from 'pino'
import { Registry } from 'prom-client'
import { defaultConfig, MIN_STALE_AFTER_SECONDS } from '../src/config.js'
import { startLive, type LiveGuard } from '../src/live/index.js'
import { FakeApiServer, waitFor, type FakeApiServerOptions } from './fake-apiserver.js'

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' })

async function setup(t: Test, opts: FakeApiServerOptions = {}, staleAfterSeconds = 300): Promise<{ api: FakeApiServer; guard: LiveGuard; registry: Registry }> {
  const api = new FakeApiServer(opts)
  api.createNamespace('netpol-guard')
  await api.start()
  const registry = new Registry()
  const guard = await startLive({
    kubeconfigPath: api.writeKubeconfig(),
    config: defaultConfig({ namespace: 'netpol-guard', mode: 'dry-run', staleAfterSeconds }),
    logger,
    registry,
    leaderElection: { leaseDurationSeconds: 1, renewIntervalMs: 200, retryIntervalMs: 200 },
    tuning: { backoffInitialMs: 50, backoffMaxMs: 300 },
  })
  t.teardown(async () => {
    await guard.stop()
    await api.stop()
  })
  t.notOk(guard.status.ready(), 'startLive resolves before the view is synced')
  t.ok(await waitFor(() => guard.status.ready(), 5000), 'ready once both lists are in')
  return { api, guard, registry }
}

const lists = (api: FakeApiServer, path: string): number => api.requests.filter((r) => r.method === 'GET' && r.path === path && !/watch=/.test(r.query)).length

t.test('dropped watch: resumes from the last resourceVersion without relisting', async (t) => {
  const { api, guard, registry } = await setup(t)
  t.equal(guard.status.reason?.(), 'ready')
  api.createNamespace('before-drop')
  t.ok(await waitFor(() => guard.view.namespace('before-drop') !== undefined))
  const rvSeen = api.get('', 'namespaces', undefined, 'before-drop')!.metadata.resourceVersion
  const listsBefore = lists(api, '/api/v1/namespaces')
  api.dropWatches()
  api.createNamespace('during-drop')
  api.createPolicy('during-drop', { metadata: { name: 'p' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } })
  t.ok(await waitFor(() => guard.view.namespace('during-drop') !== undefined && guard.view.policies('during-drop').length === 1, 5000), 'changes made while disconnected arrive')
  t.equal(lists(api, '/api/v1/namespaces'), listsBefore, 'no relist')
  const resumed = api.requests.filter((r) => r.path === '/api/v1/namespaces' && /watch=true/.test(r.query)).at(-1)!
  t.match(resumed.query, new RegExp(`resourceVersion=${rvSeen}\\b`), 'watch resumed from the last seen resourceVersion')
  const restarts = await registry.getSingleMetricAsString('netpol_guard_watch_restarts_total')
  t.match(restarts, /resource="namespaces"\} [1-9]/)
  t.ok(guard.status.ready())
})

t.test('410 Gone: relists and swaps the view in', async (t) => {
  const { api, guard } = await setup(t, {}, 300)
  api.createNamespace('doomed')
  t.ok(await waitFor(() => guard.view.namespace('doomed') !== undefined))
  await api.stop()
  // While the guard is away: history it cannot replay.
  api.deleteNamespace('doomed')
  api.createNamespace('born-while-away')
  api.compact()
  const listsBefore = lists(api, '/api/v1/namespaces')
  await api.start()
  t.ok(await waitFor(() => guard.view.namespace('born-while-away') !== undefined && guard.view.namespace('doomed') === undefined, 5000), 'relisted')
  t.ok(lists(api, '/api/v1/namespaces') > listsBefore, 'a new list was made')
  t.ok(await waitFor(() => api.watchCount('/namespaces') === 1, 3000), 'watching again')
  api.createNamespace('after')
  t.ok(await waitFor(() => guard.view.namespace('after') !== undefined, 3000), 'and the new watch works')
})

t.test('410 as an HTTP status on the watch request also relists', async (t) => {
  const { api, guard } = await setup(t, { expiredWatchAs: 'http' })
  await api.stop()
  api.createNamespace('x')
  api.compact()
  await api.start()
  t.ok(await waitFor(() => guard.view.namespace('x') !== undefined, 5000))
})

t.test('stale view turns unready; an idle healthy cluster does not', async (t) => {
  // The smallest staleness bound a config may set: the watches are then re-established every second.
  const { api, guard, registry } = await setup(t, {}, MIN_STALE_AFTER_SECONDS)
  // Idle but healthy: watches are re-established every second (timeoutSeconds), which counts as activity.
  const until = Date.now() + 2500
  let alwaysReady = true
  while (Date.now() < until) {
    alwaysReady &&= guard.status.ready()
    await new Promise((r) => setTimeout(r, 50))
  }
  t.ok(alwaysReady, 'stays ready while idle')
  await api.stop()
  t.ok(await waitFor(() => !guard.status.ready(), 8000), 'unready when the API server is gone')
  t.match(guard.status.reason?.(), /stale/)
  t.equal((await registry.getSingleMetric('netpol_guard_view_ready')!.get()).values[0].value, 0)
  await api.start()
  t.ok(await waitFor(() => guard.status.ready(), 5000), 'ready again')
})

// A misbehaving API server (found by an adversarial probe of live mode).

t.test('a watch line that is not JSON: the watch resumes before it, and the event is not lost', async (t) => {
  const { api, guard } = await setup(t)
  t.ok(await waitFor(() => api.watchCount('/namespaces') === 1, 3000))
  const listsBefore = lists(api, '/api/v1/namespaces')
  api.corruptNextEvents = 1
  api.createNamespace('lost') // its ADDED goes out as half a line
  api.createNamespace('after-lost') // a good event that would carry the resourceVersion past 'lost'
  t.ok(await waitFor(() => guard.view.namespace('lost') !== undefined && guard.view.namespace('after-lost') !== undefined, 5000), 'both namespaces reach the view')
  t.equal(lists(api, '/api/v1/namespaces'), listsBefore, 'by resuming the watch, without a relist')
})

t.test('a watch ERROR other than 410 relists, backed off, and the view converges', async (t) => {
  const { api, guard } = await setup(t)
  // Every watch of namespaces is refused as an apiserver behind etcd (restored from a backup) refuses it.
  const tooLarge = { type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 504, reason: 'Timeout', message: 'Too large resource version' } }
  api.intercept = (req, res) => {
    if (!req.watch || req.path !== '/api/v1/namespaces') return false
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(tooLarge) + '\n')
    return true
  }
  const listsBefore = lists(api, '/api/v1/namespaces')
  api.dropWatches()
  api.createNamespace('seen-by-a-relist')
  t.ok(await waitFor(() => guard.view.namespace('seen-by-a-relist') !== undefined, 5000), 'a relist brings the new namespace in')
  await new Promise((r) => setTimeout(r, 1500))
  const relists = lists(api, '/api/v1/namespaces') - listsBefore
  // backoff 50 ms doubling to 300 ms (the setup's tuning): at most ~8 in 1.5 s, not hundreds
  t.ok(relists >= 2 && relists <= 12, `relisted, backed off (${relists} lists)`)
  api.intercept = undefined
  api.dropWatches()
  api.createNamespace('watched-again')
  t.ok(await waitFor(() => guard.view.namespace('watched-again') !== undefined, 5000), 'watching again once the server accepts')
})

t.test('watches that are accepted but never speak: the view turns stale, and ready again when they do', async (t) => {
  const { api, guard } = await setup(t, {}, MIN_STALE_AFTER_SECONDS)
  const held: import('node:http').ServerResponse[] = []
  t.teardown(() => held.forEach((r) => r.destroy()))
  api.intercept = (req, res) => {
    if (!req.watch) return false
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })
    res.flushHeaders()
    held.push(res)
    return true
  }
  api.dropWatches()
  t.ok(await waitFor(() => !guard.status.ready(), 8000), 'unready: an open watch is not proof that the view is current')
  t.match(guard.status.reason?.(), /stale/)
  // and it stays so, across the watchdog's reconnects (every 6 s here: each new watch is as silent)
  let readyAgain = false
  for (const until = Date.now() + 7000; Date.now() < until && !readyAgain; ) {
    readyAgain = guard.status.ready()
    await new Promise((r) => setTimeout(r, 100))
  }
  t.notOk(readyAgain, 'still unready after the silent watches were opened again')
  api.intercept = undefined
  held.forEach((r) => r.destroy())
  t.ok(await waitFor(() => guard.status.ready(), 8000), 'ready again')
})

t.test('reconnects that make no progress are backed off', async (t) => {
  const { api } = await setup(t)
  const watches = () => api.requests.filter((r) => r.path === '/api/v1/namespaces' && /watch=/.test(r.query)).length
  // 410 on every watch: each relist is followed by a watch that expires at once.
  api.intercept = (req, res) => {
    if (!req.watch || req.path !== '/api/v1/namespaces') return false
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }) + '\n')
    return true
  }
  let before = lists(api, '/api/v1/namespaces')
  api.dropWatches()
  await new Promise((r) => setTimeout(r, 1500))
  const relists = lists(api, '/api/v1/namespaces') - before
  t.ok(relists >= 2 && relists <= 12, `relists after 410s without progress are backed off (${relists} in 1.5 s)`)
  // One event that does not move the resourceVersion, then a clean close, on every watch.
  api.intercept = (req, res, a) => {
    if (!req.watch || req.path !== '/api/v1/namespaces') return false
    const o = a.get('', 'namespaces', undefined, 'default')!
    o.metadata.resourceVersion = req.query.get('resourceVersion') ?? o.metadata.resourceVersion
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ type: 'MODIFIED', object: o }) + '\n')
    return true
  }
  await new Promise((r) => setTimeout(r, 500))
  before = watches()
  await new Promise((r) => setTimeout(r, 1500))
  const reconnects = watches() - before
  t.ok(reconnects >= 2 && reconnects <= 12, `watches that close without progress are backed off (${reconnects} in 1.5 s)`)
})
