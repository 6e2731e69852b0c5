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
  const { app } = await testServer({ verifier: verifier({ ok: false, reason: 'timeout after 2000 ms' }, []) })
  t.teardown(() => app.close())
  const body = await post(app, example('pod-create-team-b.json'))
  t.equal(body.response.allowed, true)
  t.match(body.response.warnings[0], /could not be reached \(timeout after 2000 ms\) and failClosed is off/)
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
