// Verify before deny (live mode): the handler re-reads a namespace before a coverage denial.
import t from 'tap'
import { summarizePolicy, denyAllPolicy } from '../src/policy/coverage.js'
import type { Verifier, VerifyResult } from '../src/view/effects.js'
import { example, testServer } from './helpers/server.js'

const post = (app: any, body: unknown) =>
  app.inject({ method: 'POST', url: '/validate', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } }).then((r: any) => r.json())

function verifier(result: VerifyResult, calls: string[]): Verifier {
  return {
    async namespacePolicies(ns) {
      calls.push(ns)
      return result
    },
  }
}

t.test('a policy the view has not seen yet overturns the denial', async (t) => {
  const calls: string[] = []
  const fresh = [summarizePolicy(denyAllPolicy('team-b', 'deny-all'))]
  const { app, metrics } = await testServer({ verifier: verifier({ ok: true, policies: fresh }, calls) })
  t.teardown(() => app.close())
  const body = await post(app, example('pod-create-team-b.json'))
  t.equal(body.response.allowed, true)
  t.same(calls, ['team-b'])
  t.match(await metrics.registry.metrics(), /netpol_guard_verifications_total\{result="overturned"\} 1/)
  // covered namespaces are not re-read
  await post(app, example('pod-create-team-a.json'))
  t.same(calls, ['team-b'])
})

t.test('confirmed: still denied', async (t) => {
  const { app } = await testServer({ verifier: verifier({ ok: true, policies: [] }, []) })
  t.teardown(() => app.close())
  const body = await post(app, example('pod-create-team-b.json'))
  t.equal(body.response.allowed, false)
  t.match(body.response.status.message, /^\[require-deny-all\]/)
})

t.test('API server unreachable, failClosed off: allowed with a warning', async (t) => {
  const { app, lines } = await testServer({ verifier: verifier({ ok: false, reason: 'timeout after 2000 ms' }, []) })
  t.teardown(() => app.close())
  const body = await post(app, example('pod-create-team-b.json'))
  t.equal(body.response.allowed, true)
  t.match(body.response.warnings[0], /could not be reached \(timeout after 2000 ms\) and failClosed is off/)
  const line = lines.find((l) => l.uid === body.response.uid)
  t.match(line, { level: 40, decision: 'allow', note: /allowed without checking deny-all coverage/ }, 'an allowance without the check is logged as a warning')
})

t.test('API server unreachable, failClosed on: denied, and the message says so', async (t) => {
  const { app } = await testServer({ config: { failClosed: true }, verifier: verifier({ ok: false, reason: 'connection refused' }, []) })
  t.teardown(() => app.close())
  const body = await post(app, example('pod-create-team-b.json'))
  t.equal(body.response.allowed, false)
  t.match(body.response.status.message, /could not confirm this with the API server: connection refused; failClosed is on/)
})

t.test('a terminating namespace seen by the verifier lets deletes of its deny-all through', async (t) => {
  const { app } = await testServer({ verifier: verifier({ ok: true, policies: [summarizePolicy(denyAllPolicy('team-a', 'deny-all'))], terminating: true }, []) })
  t.teardown(() => app.close())
  const body = await post(app, example('networkpolicy-delete-deny-all.json'))
  t.equal(body.response.allowed, true)
})

t.test('a replica whose watch has not seen a new namespace still honours its injection label', async (t) => {
  const now = Date.parse('2026-11-27T12:00:30Z')
  const fresh = { name: 'brand-new', labels: { 'netpol-guard.io/deny-all': 'injected' }, terminating: false, createdAt: Date.parse('2026-11-27T12:00:00Z') }
  const { app } = await testServer({ clock: () => now, verifier: verifier({ ok: true, policies: [], terminating: false, namespace: fresh }, []) })
  t.teardown(() => app.close())
  const pod = example('pod-create-team-a.json')
  pod.request.namespace = 'brand-new'
  pod.request.object.metadata.namespace = 'brand-new'
  const body = await post(app, pod)
  t.equal(body.response.allowed, true, 'covered by the pending injection seen in the fresh read')

  const late = await testServer({ clock: () => now + 120_000, verifier: verifier({ ok: true, policies: [], terminating: false, namespace: fresh }, []) })
  t.teardown(() => late.app.close())
  const denied = await post(late.app, pod)
  t.equal(denied.response.allowed, false, 'after the grace period the missing policy is a denial')
})

t.test('a fresh read of an exempt namespace lets the workload through', async (t) => {
  const fresh = { name: 'tools', labels: { 'netpol-guard.io/exempt': 'true' }, terminating: false }
  const { app } = await testServer({ verifier: verifier({ ok: true, policies: [], namespace: fresh }, []) })
  t.teardown(() => app.close())
  const pod = example('pod-create-team-a.json')
  pod.request.namespace = 'tools'
  pod.request.object.metadata.namespace = 'tools'
  t.equal((await post(app, pod)).response.allowed, true)
})
