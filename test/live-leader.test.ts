// Two guards on one API server: one leader writes; when it stops (or dies) the other takes over.
import t, { type Test } from 'tap'
import pino from 'pino'
import { Registry } from 'prom-client'
import { defaultConfig } from '../src/config.js'
import { startLive, type LiveGuard } from '../src/live/index.js'
import { FakeApiServer, waitFor } from './fake-apiserver.js'

const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' })
const config = defaultConfig({ namespace: 'netpol-guard' })

async function leaderGauge(r: Registry): Promise<number> {
  return (await r.getSingleMetric('netpol_guard_leader')!.get()).values[0].value
}

async function twoGuards(t: Test, releaseOnStop: boolean) {
  const api = new FakeApiServer()
  api.createNamespace('netpol-guard')
  await api.start()
  t.teardown(() => api.stop())
  const kubeconfigPath = api.writeKubeconfig()
  const guards: { id: string; guard: LiveGuard; registry: Registry }[] = []
  for (const id of ['guard-a', 'guard-b']) {
    const registry = new Registry()
    const guard = await startLive({
      kubeconfigPath, config, logger, registry, identity: id,
      leaderElection: { leaseDurationSeconds: 1, renewIntervalMs: 150, retryIntervalMs: 100, releaseOnStop },
      tuning: { backoffInitialMs: 50, backoffMaxMs: 300 },
    })
    t.teardown(() => guard.stop())
    guards.push({ id, guard, registry })
  }
  t.ok(await waitFor(() => guards.every((g) => g.guard.status.ready()), 5000))
  const holder = (): string | undefined => (api.lease('netpol-guard', 'netpol-guard-leader')?.spec as any)?.holderIdentity
  t.ok(await waitFor(() => guards.some((g) => g.id === holder()), 3000), 'one of them holds the lease')
  // The lease is written before the winner's gauge flips: wait for the gauges to agree with it.
  const gaugesSettled = async () => {
    const g = await Promise.all(guards.map((x) => leaderGauge(x.registry)))
    return g.slice().sort().join() === '0,1'
  }
  t.ok(await waitFor(gaugesSettled, 3000), 'the leader gauge follows the lease')
  const gauges = await Promise.all(guards.map((g) => leaderGauge(g.registry)))
  t.same(gauges.slice().sort(), [0, 1], 'exactly one leader')
  const leader = guards.find((g) => g.id === holder())!
  const follower = guards.find((g) => g !== leader)!
  return { api, leader, follower, holder }
}

for (const releaseOnStop of [true, false]) {
  t.test(`leader ${releaseOnStop ? 'stops' : 'dies without releasing the lease'}: the other takes over and converges`, async (t) => {
    const { api, leader, follower, holder } = await twoGuards(t, releaseOnStop)
    api.createNamespace('first')
    t.ok(await waitFor(() => api.policy('first', 'deny-all') !== undefined, 3000), 'the leader converges a new namespace')
    t.equal(api.requests.filter((r) => r.method === 'POST' && r.path === '/apis/networking.k8s.io/v1/namespaces/first/networkpolicies').length, 1, 'one write, not two')

    const t0 = Date.now()
    await leader.guard.stop()
    t.ok(await waitFor(() => holder() === follower.id, 5000), 'the follower acquired the lease')
    const handover = Date.now() - t0
    t.comment(`handover after leader ${releaseOnStop ? 'stop' : 'death'}: ${handover} ms (lease 1 s)`)
    if (!releaseOnStop) t.ok(handover >= 900, 'a dead leader is waited for until its lease expires')
    t.ok(await waitFor(async () => (await leaderGauge(follower.registry)) === 1, 2000))
    t.equal(await leaderGauge(leader.registry), 0)
    api.createNamespace('second')
    t.ok(await waitFor(() => api.policy('second', 'deny-all') !== undefined, 3000), 'the new leader converges new namespaces')
    t.ok(((api.lease('netpol-guard', 'netpol-guard-leader')!.spec as any).leaseTransitions as number) >= 1)
  })
}
