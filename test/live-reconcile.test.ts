// The reconciler as leader: existing namespaces converge, foreign policies are never touched, name conflicts
// and dry-run are reported without writing.
import t, { type Test } from 'tap'
import pino from 'pino'
import { Registry } from 'prom-client'
import { defaultConfig, type GuardConfig } from '../src/config.js'
import { startLive, type LiveGuard } from '../src/live/index.js'
import { FakeApiServer, waitFor } from './fake-apiserver.js'

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' })
const NP = 'networking.k8s.io'

async function startGuard(t: Test, api: FakeApiServer, config: GuardConfig): Promise<{ guard: LiveGuard; registry: Registry }> {
  const registry = new Registry()
  const guard = await startLive({
    kubeconfigPath: api.writeKubeconfig(),
    config,
    logger,
    registry,
    identity: 'guard-r',
    leaderElection: { leaseDurationSeconds: 1, renewIntervalMs: 100, retryIntervalMs: 100 },
    tuning: { backoffInitialMs: 50, backoffMaxMs: 500 },
  })
  t.teardown(() => guard.stop())
  return { guard, registry }
}

/** The fake API server, stopped when the test ends, holding the guard's own namespace. */
async function startApi(t: Test): Promise<FakeApiServer> {
  const api = new FakeApiServer()
  await api.start()
  t.teardown(() => api.stop())
  api.createNamespace('netpol-guard')
  return api
}

const writesTo = (api: FakeApiServer, ns: string): string[] =>
  api.requests.filter((r) => r.method !== 'GET' && r.path.includes(`/namespaces/${ns}/networkpolicies`)).map((r) => `${r.method} ${r.path}`)

async function gauge(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)!.get()
  return m.values[0]?.value ?? NaN
}

t.test('enforce: uncovered namespaces get deny-all, others are left alone', async (t) => {
  const api = await startApi(t)
  api.createNamespace('exempt-me', { 'netpol-guard.io/exempt': 'true' })
  api.createNamespace('ingress-only')
  api.createPolicy('ingress-only', { metadata: { name: 'web' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } })
  api.createNamespace('locked')
  api.createPolicy('locked', { metadata: { name: 'lockdown' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } })
  api.createNamespace('conflict')
  const foreign = api.createPolicy('conflict', {
    metadata: { name: 'deny-all', labels: { team: 'x' } },
    spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'] },
  })
  api.createNamespace('dry', { 'netpol-guard.io/mode': 'dry-run' })
  const webBefore = api.policy('ingress-only', 'web')!

  const { guard, registry } = await startGuard(t, api, defaultConfig({ namespace: 'netpol-guard' }))
  t.ok(await waitFor(() => api.policy('ingress-only', 'deny-all') !== undefined && api.policy('default', 'deny-all') !== undefined, 5000), 'converged')
  t.ok(await waitFor(async () => (await gauge(registry, 'netpol_guard_noncompliant_namespaces')) === 2, 3000), 'conflict and dry-run remain non-compliant')
  t.equal(await gauge(registry, 'netpol_guard_leader'), 1)
  t.same(api.policy('ingress-only', 'web'), webBefore, 'the foreign ingress-only policy is unchanged')
  t.same(api.policy('conflict', 'deny-all'), foreign, 'a foreign policy holding the name is never overwritten')
  t.same(writesTo(api, 'conflict'), [], 'not even attempted')
  t.same(writesTo(api, 'locked'), [], 'covered namespace: no write')
  t.same(writesTo(api, 'dry'), [], 'dry-run namespace: no write')
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'netpol-guard', 'exempt-me']) t.equal(api.policies(ns).length, 0, `${ns} exempt`)
  t.ok(await waitFor(() => api.events().some((e: any) => e.reason === 'DenyAllNameConflict' && e.involvedObject.name === 'conflict')), 'conflict reported as an Event')
  t.ok(await waitFor(() => api.events().some((e: any) => e.reason === 'NonCompliant' && e.involvedObject.name === 'dry')), 'dry-run namespace reported as an Event')
  t.notOk(api.requests.some((r) => (r.method === 'PUT' || r.method === 'DELETE') && r.path.includes('networkpolicies')), 'never updates or deletes a policy')

  // Namespace events: a new namespace converges; someone deleting the deny-all gets it back.
  api.createNamespace('later')
  t.ok(await waitFor(() => api.policy('later', 'deny-all') !== undefined, 3000), 'new namespace converges')
  api.remove(NP, 'networkpolicies', 'later', 'deny-all')
  t.ok(await waitFor(() => api.policy('later', 'deny-all') !== undefined, 3000), 'deleted deny-all is recreated')
  // Switching a namespace to dry-run later stops writes; labelling it exempt takes it out of the gauge.
  api.put(api.def('', 'namespaces')!, { ...api.get('', 'namespaces', undefined, 'dry')!, metadata: { ...api.get('', 'namespaces', undefined, 'dry')!.metadata, labels: { 'netpol-guard.io/exempt': 'true' } } })
  t.ok(await waitFor(async () => (await gauge(registry, 'netpol_guard_noncompliant_namespaces')) === 1, 3000))
  t.ok(guard.status.ready())
})

t.test('global dry-run: reports everything, writes nothing', async (t) => {
  const api = await startApi(t)
  for (const n of ['a', 'b', 'c']) api.createNamespace(n)
  const { registry } = await startGuard(t, api, defaultConfig({ namespace: 'netpol-guard', mode: 'dry-run' }))
  t.ok(await waitFor(() => api.events().filter((e: any) => e.reason === 'NonCompliant').length === 4, 5000), 'a, b, c and default reported')
  t.equal(await gauge(registry, 'netpol_guard_noncompliant_namespaces'), 4)
  t.same(api.policies(), [], 'no policy created')
  t.notOk(api.requests.some((r) => r.method !== 'GET' && r.path.includes('networkpolicies')), 'no write to networkpolicies at all')
  const e = api.events().find((x: any) => x.involvedObject.name === 'a')!
  t.match(e, { type: 'Warning', message: /dry-run/ })
})

t.test('global dry-run, one namespace labelled enforce: that one gets its deny-all, the others are only reported', async (t) => {
  // Admission refuses the labelled namespace's workloads (the label wins), so the reconciler must cover it.
  const api = await startApi(t)
  api.createNamespace('early', { 'netpol-guard.io/mode': 'enforce' })
  api.createNamespace('later')
  await startGuard(t, api, defaultConfig({ namespace: 'netpol-guard', mode: 'dry-run' }))
  t.ok(await waitFor(() => api.policy('early', 'deny-all') !== undefined, 5000), 'deny-all created in the namespace labelled enforce')
  t.ok(await waitFor(() => api.events().some((e: any) => e.reason === 'NonCompliant' && e.involvedObject.name === 'later'), 5000), 'the other reported')
  t.same(writesTo(api, 'later'), [], 'no write in the dry-run namespace')
})
