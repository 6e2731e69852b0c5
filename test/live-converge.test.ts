// Scale: 500 namespaces that existed before the guard converge; 100 namespaces created at once all get theirs.
import t from 'tap'
import pino from 'pino'
import { Registry } from 'prom-client'
import { defaultConfig } from '../src/config.js'
import { startLive } from '../src/live/index.js'
import { FakeApiServer, waitFor } from './fake-apiserver.js'

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' })

t.test('500 pre-existing uncovered namespaces converge; then 100 created at once', async (t) => {
  const api = new FakeApiServer()
  api.createNamespace('netpol-guard')
  for (let i = 0; i < 500; i++) api.createNamespace(`pre-${i}`)
  await api.start()
  t.teardown(() => api.stop())
  const registry = new Registry()
  const t0 = Date.now()
  const guard = await startLive({
    kubeconfigPath: api.writeKubeconfig(),
    config: defaultConfig({ namespace: 'netpol-guard' }),
    logger,
    registry,
    leaderElection: { leaseDurationSeconds: 1, renewIntervalMs: 200, retryIntervalMs: 100 },
  })
  t.teardown(() => guard.stop())
  const covered = (prefix: string, n: number): boolean => {
    for (let i = 0; i < n; i++) if (!api.policy(`${prefix}-${i}`, 'deny-all')) return false
    return true
  }
  t.ok(await waitFor(() => covered('pre', 500), 30_000, 50), 'all 500 have deny-all')
  const converge = Date.now() - t0
  t.comment(`500 pre-existing namespaces converged in ${converge} ms from startLive`)
  t.ok(await waitFor(async () => (await registry.getSingleMetric('netpol_guard_noncompliant_namespaces')!.get()).values[0].value === 0, 5000), 'gauge back to 0')
  const posts = api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/networkpolicies')).length
  t.equal(posts, 501, 'one create per namespace (500 + default)')

  // 100 namespace CREATEs at once, each scheduled by the admission path and also seen by the leader.
  const t1 = Date.now()
  for (let i = 0; i < 100; i++) {
    guard.injector.schedule(`burst-${i}`)
    api.createNamespace(`burst-${i}`)
  }
  t.ok(await waitFor(() => covered('burst', 100), 20_000, 20), 'all 100 have deny-all')
  t.comment(`100 namespaces created at once: all covered ${Date.now() - t1} ms after the first create`)
  t.notOk(api.requests.some((r) => r.method === 'POST' && r.status === 500), 'no server error')
})
