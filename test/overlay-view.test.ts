// NamespaceOverlayView: one namespace's policies (and terminating state, and info) replaced by what the API server
// just said, the rest from the underlying view; namespaceState() agrees with namespace() and policyCoverage().
import t from 'tap'
import { summarizePolicy } from '../src/policy/coverage.js'
import { MemoryView } from '../src/view/memory-view.js'
import { NamespaceOverlayView } from '../src/view/overlay-view.js'

const denyAll = summarizePolicy({ metadata: { name: 'deny-all' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } })
const ingressOnly = summarizePolicy({ metadata: { name: 'deny-in' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } })

function base(): MemoryView {
  const view = new MemoryView()
  view.upsertNamespace({ name: 'team', labels: { 'netpol-guard.io/mode': 'dry-run' }, terminating: false, createdAt: 1 })
  view.upsertPolicy('team', ingressOnly)
  view.upsertNamespace({ name: 'other', labels: {}, terminating: false })
  view.upsertPolicy('other', denyAll)
  return view
}

t.test('the overlaid namespace: fresh coverage, the base labels, the fresh terminating state', async (t) => {
  const view = base()
  const overlay = new NamespaceOverlayView(view, 'team', [denyAll], true)
  t.same(overlay.namespaceState('team'), { labels: { 'netpol-guard.io/mode': 'dry-run' }, terminating: true, coverage: { ingress: true, egress: true } })
  t.same(overlay.namespaceState('team')!.coverage, overlay.policyCoverage('team'), 'agrees with policyCoverage')
  t.equal(overlay.namespaceState('team')!.terminating, overlay.namespace('team')!.terminating, 'agrees with namespace()')
  t.same(view.namespaceState('team')!.coverage, { ingress: true, egress: false }, 'the base view is untouched')
})

t.test('fresh namespace info wins; a namespace the base does not hold gets a state from the fresh data', async (t) => {
  const view = base()
  const fresh = new NamespaceOverlayView(view, 'team', [], undefined, { name: 'team', labels: { 'netpol-guard.io/exempt': 'true' }, terminating: false })
  t.same(fresh.namespaceState('team'), { labels: { 'netpol-guard.io/exempt': 'true' }, terminating: false, coverage: { ingress: false, egress: false } })
  const unknown = new NamespaceOverlayView(view, 'new-ns', [denyAll], false)
  t.same(unknown.namespaceState('new-ns'), { labels: {}, terminating: false, coverage: { ingress: true, egress: true } })
  const notThere = new NamespaceOverlayView(view, 'new-ns', [denyAll])
  t.equal(notThere.namespaceState('new-ns'), undefined, 'no info anywhere: no state, as namespace() gives none')
  t.equal(notThere.namespace('new-ns'), undefined)
})

t.test('every other namespace is the base view\'s', async (t) => {
  const view = base()
  const overlay = new NamespaceOverlayView(view, 'team', [], true)
  t.equal(overlay.namespaceState('other'), view.namespaceState('other'))
  t.equal(overlay.namespaceState('missing'), undefined)
})
