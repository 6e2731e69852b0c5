// Replays every AdmissionReview recorded from a real kube-apiserver v1.32 (../shared/fixtures) through
// the server, in recording order, against a view that follows what the cluster would then hold.
import t from 'tap'
import { MemoryView } from '../src/view/memory-view.js'
import { FIXTURES, decodePatch, fixture, fixtureNames, haveFixtures, testServer } from './helpers/server.js'

const DENIED: Record<string, string> = {
  '006-globalnetworkpolicy-create.json': 'no-global-policy',
  '007-globalnetworkpolicy-create.json': 'no-global-policy',
  '008-globalnetworkpolicy-create.json': 'no-global-policy',
  '009-ciliumclusterwidenetworkpolicy-create.json': 'no-global-policy',
  // team-a's only deny-all is turned into an ingress-only policy: egress coverage would be lost
  '013-networkpolicy-update.json': 'protect-deny-all',
}

function pathOf(name: string, review: any): '/validate' | '/mutate' {
  // INDEX.md: for a Namespace CREATE the mutating call comes first, then the validating one (which
  // already carries the mutation); the two files of a pair hold the same object name.
  const r = review.request
  if (r.resource.resource !== 'namespaces' || r.operation !== 'CREATE') return '/validate'
  const labels = r.object?.metadata?.labels ?? {}
  return 'kapi.example/mutated-by' in labels ? '/validate' : '/mutate'
}

t.test('recorded apiserver requests get netpol-guard answers', { skip: haveFixtures() ? false : `recorded requests not found in ${FIXTURES}` }, async (t) => {
  const view = new MemoryView()
  const { app } = await testServer({ view })
  t.teardown(() => app.close())
  const names = fixtureNames()
  t.ok(names.length >= 90, `${names.length} recordings`)
  for (const name of names) {
    const review = fixture(name)
    const req = review.request
    const path = pathOf(name, review)
    const res = await app.inject({ method: 'POST', url: `${path}?timeout=10s`, payload: JSON.stringify(review), headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 200, `${name}: 200`)
    const body = res.json()
    t.equal(body.apiVersion, review.apiVersion, `${name}: apiVersion`)
    t.equal(body.response.uid, req.uid, `${name}: uid`)
    const rule = DENIED[name]
    if (rule) {
      t.equal(body.response.allowed, false, `${name}: denied`)
      t.match(body.response.status.message, `[${rule}] `, `${name}: [${rule}]`)
      continue
    }
    t.equal(body.response.allowed, true, `${name}: allowed${body.response.status ? ' — ' + body.response.status.message : ''}`)
    if (path === '/mutate') {
      const patch = decodePatch(body.response)
      if (req.dryRun) {
        // `kubectl create namespace --dry-run=server`: the contract patches only when dryRun is false.
        t.equal(patch, undefined, `${name}: no patch for a dry run`)
        t.equal(view.pendingInjection(req.name), undefined, `${name}: dry run schedules nothing`)
      } else {
        t.same(patch, [{ op: 'add', path: '/metadata/labels/netpol-guard.io~1deny-all', value: 'injected' }], `${name}: label patch`)
        t.ok(view.pendingInjection(req.name), `${name}: injection pending`)
      }
      continue
    }
    t.notOk(body.response.patch, `${name}: no patch from /validate`)
    // What the cluster holds once the request is admitted.
    if (req.dryRun) continue
    if (req.resource.resource === 'namespaces') {
      if (req.operation === 'DELETE') view.upsertNamespace({ ...req.oldObject, status: { phase: 'Terminating' } })
      else view.upsertNamespace(req.object)
    } else if (req.resource.resource === 'networkpolicies') {
      if (req.operation === 'DELETE') view.deletePolicy(req.namespace, req.name)
      else view.upsertPolicy(req.namespace, req.object)
    }
  }
})
