// Injection path (any replica, leader or not), verify-before-deny, and an API outage during injection.
import t, { type Test } from 'tap'
import pino from 'pino'
import { Registry } from 'prom-client'
import { defaultConfig } from '../src/config.js'
import { startLive, type LiveGuard } from '../src/live/index.js'
import { FakeApiServer, waitFor } from './fake-apiserver.js'

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' })
const config = defaultConfig({ namespace: 'netpol-guard', verifyTimeoutMs: 300 })

const isDenyAll = (np: any): boolean =>
  np?.metadata?.labels?.['app.kubernetes.io/managed-by'] === 'netpol-guard' &&
  JSON.stringify(np.spec) === JSON.stringify({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] })

async function setup(t: Test): Promise<{ api: FakeApiServer; guard: LiveGuard; registry: Registry }> {
  const api = new FakeApiServer()
  api.createNamespace('netpol-guard')
  // Another replica holds the leader lease for the whole test: what happens here is the injector's doing alone.
  api.put(api.def('coordination.k8s.io', 'leases')!, {
    metadata: { name: 'netpol-guard-leader', namespace: 'netpol-guard' },
    spec: { holderIdentity: 'other-replica', leaseDurationSeconds: 3600, renewTime: new Date().toISOString() },
  })
  await api.start()
  const registry = new Registry()
  const guard = await startLive({
    kubeconfigPath: api.writeKubeconfig(),
    config,
    logger,
    registry,
    identity: 'guard-1',
    leaderElection: { leaseDurationSeconds: 1, renewIntervalMs: 100, retryIntervalMs: 100 },
    tuning: { backoffInitialMs: 50, backoffMaxMs: 500, injection: { backoffInitialMs: 50, backoffMaxMs: 500, boundMs: 10_000 } },
  })
  t.teardown(async () => {
    await guard.stop()
    await api.stop()
  })
  t.ok(await waitFor(() => guard.status.ready(), 5000), 'view becomes ready')
  return { api, guard, registry }
}

t.test('injection after namespace create, before the namespace exists', async (t) => {
  const { api, guard, registry } = await setup(t)
  t.equal(api.policy('default', 'deny-all'), undefined, 'not leader: the reconciler did not write')

  // As the admission handler does: schedule() at /mutate time, the namespace is persisted just after.
  const before = Date.now()
  guard.injector.schedule('team-a')
  t.ok(guard.view.pendingInjection('team-a'), 'pending at once, so workloads right after are not refused')
  t.ok(Date.now() - before < 50, 'schedule() returns immediately')
  await new Promise((r) => setImmediate(r))
  const created = Date.now()
  api.createNamespace('team-a')
  t.ok(await waitFor(() => isDenyAll(api.policy('team-a', 'deny-all')), 5000), 'deny-all created')
  const latency = Date.now() - created
  t.comment(`injection latency after namespace create: ${latency} ms`)
  t.ok(latency < 1000, 'within a second of the namespace existing')
  t.ok(await waitFor(() => guard.view.policies('team-a').some((p) => p.managedByGuard)), 'the view sees it')
  t.equal(guard.view.pendingInjection('team-a'), undefined, 'pending promise cleared once the policy is seen')
  t.ok(await waitFor(() => api.events().some((e: any) => e.reason === 'DenyAllInjected' && e.involvedObject.name === 'team-a')), 'Event recorded')
  const ev = api.events().find((e: any) => e.reason === 'DenyAllInjected')!
  t.match(ev, { metadata: { namespace: 'default' }, involvedObject: { kind: 'Namespace', name: 'team-a' }, type: 'Normal' })
  const metrics = await registry.getSingleMetricAsString('netpol_guard_injections_total')
  t.match(metrics, /netpol_guard_injections_total\{result="created"\} 1/)

  // Scheduling again: 409 AlreadyExists counts as done, nothing is overwritten.
  const rv = api.policy('team-a', 'deny-all')!.metadata.resourceVersion
  guard.injector.schedule('team-a')
  guard.injector.schedule('team-z-never-created')
  t.ok(await waitFor(async () => /result="exists"\} 1/.test(await registry.getSingleMetricAsString('netpol_guard_injections_total')), 3000) ||
    api.policy('team-a', 'deny-all')!.metadata.resourceVersion === rv)
  t.equal(api.policy('team-a', 'deny-all')!.metadata.resourceVersion, rv, 'existing policy untouched')
  t.notOk(api.requests.some((r) => r.method === 'PUT' && r.path.includes('networkpolicies')), 'no update')
  t.notOk(api.requests.some((r) => r.method === 'DELETE'), 'no delete')
})

t.test('API server down during injection, then back: converges', async (t) => {
  const { api, guard } = await setup(t)
  await api.stop()
  guard.injector.schedule('team-b')
  api.createNamespace('team-b') // the store outlives the outage; the namespace exists when the server is back
  await new Promise((r) => setTimeout(r, 300)) // let a few attempts fail against the closed port
  t.equal(api.policy('team-b', 'deny-all'), undefined)
  await api.start()
  t.ok(await waitFor(() => isDenyAll(api.policy('team-b', 'deny-all')), 8000), 'deny-all created after the outage')
  t.ok(await waitFor(() => guard.view.policies('team-b').length === 1, 5000), 'watches reconnected')
})

t.test('500 answers during injection are retried', async (t) => {
  const { api, guard } = await setup(t)
  api.createNamespace('team-c')
  api.failNext(3, { path: '/namespaces/team-c/networkpolicies', method: 'POST' })
  guard.injector.schedule('team-c')
  t.ok(await waitFor(() => isDenyAll(api.policy('team-c', 'deny-all')), 8000))
  t.equal(api.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/team-c/networkpolicies')).length, 4, '3 failures, then success')
})

t.test('verifier: reads the API server, bounded; {ok:false} on timeout or outage, never throws', async (t) => {
  const { api, guard } = await setup(t)
  api.createNamespace('v1')
  api.createPolicy('v1', { metadata: { name: 'lockdown' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } })
  const ok = await guard.verifier.namespacePolicies('v1', 1000)
  t.match(ok, { ok: true, terminating: false })
  t.same(ok.ok && ok.policies.map((p) => [p.name, p.coversIngress, p.coversEgress]), [['lockdown', true, true]])

  const none = await guard.verifier.namespacePolicies('does-not-exist', 1000)
  t.match(none, { ok: true, policies: [], terminating: false })

  api.setDelay(1000, '/namespaces/v1/networkpolicies')
  const t0 = Date.now()
  const slow = await guard.verifier.namespacePolicies('v1', 150)
  const took = Date.now() - t0
  t.equal(slow.ok, false)
  t.match(slow.ok === false && slow.reason, /v1.*150 ms/)
  t.ok(took < 600, `bounded (${took} ms)`)
  api.setDelay(0, '/namespaces/v1/networkpolicies')

  await api.deleteNamespace('v1')
  await api.stop()
  const down = await guard.verifier.namespacePolicies('v1', 500)
  t.equal(down.ok, false)
  t.match(down.ok === false && down.reason, /could not read/)
})
