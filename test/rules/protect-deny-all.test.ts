// protect-deny-all: a NetworkPolicy DELETE or UPDATE that takes its namespace from covered to not covered is denied.
import t from 'tap'
import type { AdmissionRequest, NetworkPolicy } from '../../src/k8s/types.js'
import { NETWORK_POLICIES } from '../../src/policy/kinds.js'
import { protectDenyAll } from '../../src/rules/protect-deny-all.js'
import type { MemoryView } from '../../src/view/memory-view.js'
import {
  ADMIN,
  admissionRequest,
  allowWeb,
  assertMessage,
  config,
  createPolicy,
  ctx,
  deletePolicy,
  denyAll,
  denyEgress,
  denyIngress,
  fixture,
  NAMESPACE_CONTROLLER,
  namespaceObject,
  networkPolicy,
  noFixtures,
  serviceAccount,
  updatePolicy,
  viewOf,
} from '../helpers/requests.js'

const evaluate = (req: AdmissionRequest, view: MemoryView, cfg = config()) => protectDenyAll.evaluate(ctx(req, view, cfg))
const withPolicies = (...policies: NetworkPolicy[]) => viewOf({ namespaces: ['team-a'], policies })
const clone = <T>(x: T): T => structuredClone(x)

t.test('deleting the only deny-all is denied', async (t) => {
  const p = denyAll('team-a')
  const f = evaluate(deletePolicy(p), withPolicies(p))
  assertMessage(t, f, 'protect-deny-all', 'NetworkPolicy team-a/deny-all', [
    /^\[protect-deny-all\] Deleting /,
    'namespace team-a',
    'ingress and egress',
    /create another deny-all/i,
  ])
  // Whoever asks: cluster admins too (only the namespace controller and terminating namespaces pass).
  t.ok(evaluate(deletePolicy(p, { userInfo: ADMIN }), withPolicies(p)), 'system:masters denied too')
  t.ok(evaluate(deletePolicy(p, { dryRun: true }), withPolicies(p)), 'server-side dry-run judged the same')
})

t.test('fixture-shaped DELETE of the recorded deny-all (012 deleted the way 005 was)', { skip: noFixtures }, async (t) => {
  const recorded = fixture('012').object as NetworkPolicy
  const del = fixture('005')
  del.name = 'deny-all'
  del.oldObject = clone(recorded)
  const view = viewOf({ namespaces: ['team-a'], policies: [recorded, fixture('004').object as NetworkPolicy] })
  assertMessage(t, evaluate(del, view), 'protect-deny-all', 'NetworkPolicy team-a/deny-all', ['ingress and egress'])
})

t.test('deleting a deny-all when another policy also covers is allowed', async (t) => {
  const a = denyAll('team-a', 'deny-all')
  const b = denyAll('team-a', 'baseline')
  t.equal(evaluate(deletePolicy(a), withPolicies(a, b)), undefined, 'second deny-all')
  const split = [denyIngress('team-a', 'x1'), denyEgress('team-a', 'x2')]
  t.equal(evaluate(deletePolicy(a), withPolicies(a, ...split)), undefined, 'ingress and egress covered by two others')
})

t.test('coverage split over two policies: deleting either one is denied', async (t) => {
  const i = denyIngress('team-a', 'no-ingress')
  const e = denyEgress('team-a', 'no-egress')
  const view = withPolicies(i, e, allowWeb('team-a'))
  const fi = evaluate(deletePolicy(i), view)
  assertMessage(t, fi, 'protect-deny-all', 'NetworkPolicy team-a/no-ingress', [/lose its deny-all for ingress\./])
  const fe = evaluate(deletePolicy(e), view)
  assertMessage(t, fe, 'protect-deny-all', 'NetworkPolicy team-a/no-egress', [/lose its deny-all for egress\./])
})

t.test('deleting a policy that does not cover is allowed', async (t) => {
  const web = allowWeb('team-a')
  t.equal(evaluate(deletePolicy(web), withPolicies(denyAll('team-a'), web)), undefined, 'covered namespace')
  t.equal(evaluate(deletePolicy(web), withPolicies(web)), undefined, 'uncovered namespace')
  const narrow = networkPolicy('team-a', 'deny-web', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'] })
  t.equal(evaluate(deletePolicy(narrow), withPolicies(denyAll('team-a'), narrow)), undefined, 'a narrow deny')
})

t.test('recorded DELETE of allow-web (fixture 005) is allowed', { skip: noFixtures }, async (t) => {
  const view = viewOf({ namespaces: ['team-a'], policies: [fixture('012').object as NetworkPolicy, fixture('004').object as NetworkPolicy] })
  t.equal(evaluate(fixture('005'), view), undefined, 'covered namespace')
  t.equal(evaluate(fixture('005'), viewOf({ namespaces: ['team-a'], policies: [fixture('004').object as NetworkPolicy] })), undefined, 'uncovered namespace')
})

t.test('an UPDATE that uncovers is denied', async (t) => {
  const before = denyAll('team-a')
  const cases: Array<[string, NetworkPolicy, RegExp]> = [
    ['adds an ingress rule', networkPolicy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }] }), /lose its deny-all for ingress\./],
    ['adds an egress rule', networkPolicy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] }), /lose its deny-all for egress\./],
    ['narrows the selector', networkPolicy('team-a', 'deny-all', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'] }), /lose its deny-all for ingress and egress\./],
    ['narrows the selector with an expression', networkPolicy('team-a', 'deny-all', { podSelector: { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, policyTypes: ['Ingress', 'Egress'] }), /ingress and egress/],
    ['drops Egress from policyTypes', networkPolicy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }), /lose its deny-all for egress\./],
    ['drops Ingress from policyTypes', networkPolicy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Egress'] }), /lose its deny-all for ingress\./],
    ['removes policyTypes (effective: Ingress only)', networkPolicy('team-a', 'deny-all', { podSelector: {} }), /lose its deny-all for egress\./],
  ]
  for (const [name, after, phrase] of cases) {
    const f = evaluate(updatePolicy(before, after), withPolicies(before))
    assertMessage(t, f, 'protect-deny-all', 'NetworkPolicy team-a/deny-all', [/^\[protect-deny-all\] This change to /, phrase])
  }
})

t.test('fixture 013 turns the only deny-all into ingress-only: denied (the namespace loses egress coverage)', { skip: noFixtures }, async (t) => {
  const upd = fixture('013')
  const view = viewOf({ namespaces: ['team-a'], policies: [upd.oldObject as NetworkPolicy] })
  assertMessage(t, evaluate(upd, view), 'protect-deny-all', 'NetworkPolicy team-a/deny-all', [/lose its deny-all for egress\./])
  // ... and allowed when another policy keeps egress covered.
  const other = viewOf({ namespaces: ['team-a'], policies: [upd.oldObject as NetworkPolicy, denyEgress('team-a', 'egress-baseline')] })
  t.equal(evaluate(fixture('013'), other), undefined)
  // Server-side apply arrives as UPDATE too (089 keeps only Egress).
  const ssa = fixture('089')
  const ssaView = viewOf({ namespaces: ['fast-race'], policies: [ssa.oldObject as NetworkPolicy] })
  assertMessage(t, evaluate(ssa, ssaView), 'protect-deny-all', 'NetworkPolicy fast-race/ssa-deny-all', [/lose its deny-all for ingress\./])
})

t.test('harmless UPDATEs are allowed', async (t) => {
  const before = denyAll('team-a')
  const cases: Array<[string, NetworkPolicy]> = [
    ['no change', denyAll('team-a')],
    ['label added', denyAll('team-a', 'deny-all', { team: 'a' })],
    ['matchLabels: {} instead of {}', networkPolicy('team-a', 'deny-all', { podSelector: { matchLabels: {} }, policyTypes: ['Ingress', 'Egress'] })],
    ['policyTypes reordered', networkPolicy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Egress', 'Ingress'] })],
    ['empty rule lists', networkPolicy('team-a', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] })],
  ]
  for (const [name, after] of cases) t.equal(evaluate(updatePolicy(before, after), withPolicies(before)), undefined, name)

  const web = allowWeb('team-a')
  const webWider = networkPolicy('team-a', 'allow-web', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 8080 }] }] })
  t.equal(evaluate(updatePolicy(web, webWider), withPolicies(before, web)), undefined, 'changing a non-covering policy')

  const second = denyAll('team-a', 'second')
  const opened = networkPolicy('team-a', 'second', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }] })
  t.equal(evaluate(updatePolicy(second, opened), withPolicies(before, second)), undefined, 'opening one of two deny-alls')

  const partial = denyIngress('team-a', 'deny-all')
  t.equal(evaluate(updatePolicy(partial, denyAll('team-a')), withPolicies(partial)), undefined, 'an UPDATE that adds coverage')
})

t.test('a namespace that was not covered before the change is not protected', async (t) => {
  // The contract: "takes its namespace from covered to not covered". Ingress-only is not covered.
  const i = denyIngress('team-a', 'no-ingress')
  t.equal(evaluate(deletePolicy(i), withPolicies(i)), undefined, 'deleting an ingress-only deny in a partly covered namespace')
  const opened = networkPolicy('team-a', 'no-ingress', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] })
  t.equal(evaluate(updatePolicy(i, opened), withPolicies(i)), undefined, 'opening it')
  t.equal(evaluate(deletePolicy(allowWeb('team-a')), withPolicies()), undefined, 'no policies at all')
})

t.test('the request is believed over a stale view', async (t) => {
  const p = denyAll('team-a')
  t.ok(evaluate(deletePolicy(p), withPolicies()), 'oldObject covers even though the view has not seen the policy yet')
  const staleView = withPolicies(networkPolicy('team-a', 'deny-all', { podSelector: { matchLabels: { old: 'x' } } }))
  t.ok(evaluate(deletePolicy(p), staleView), 'oldObject wins over an outdated summary')
  const noOld = admissionRequest({ operation: 'DELETE', resource: NETWORK_POLICIES, name: 'deny-all', namespace: 'team-a' })
  t.ok(evaluate(noOld, withPolicies(p)), 'without oldObject the view is used')
  t.equal(evaluate(noOld, withPolicies(p, denyAll('team-a', 'other'))), undefined, 'without oldObject, another covering policy')
})

t.test('a terminating namespace lets everything go', async (t) => {
  const p = denyAll('team-a')
  const view = viewOf({ namespaces: [namespaceObject('team-a', { terminating: true })], policies: [p] })
  t.equal(evaluate(deletePolicy(p), view), undefined, 'DELETE')
  t.equal(evaluate(updatePolicy(p, denyIngress('team-a', 'deny-all')), view), undefined, 'UPDATE')
})

t.test('a blank namespace is no namespace: nothing to protect, and no hole in a message', async (t) => {
  // Before, " " was looked up as a namespace and the denial read "namespace   would lose its deny-all".
  const p = denyAll(' ')
  t.equal(evaluate(deletePolicy(p), viewOf({ namespaces: [' '], policies: [p] })), undefined)
})

t.test('the namespace controller is never refused', async (t) => {
  const p = denyAll('team-a')
  t.equal(evaluate(deletePolicy(p, { userInfo: NAMESPACE_CONTROLLER }), withPolicies(p)), undefined)
  t.ok(evaluate(deletePolicy(p, { userInfo: serviceAccount('kube-system', 'other-controller') }), withPolicies(p)), 'another kube-system SA is')
})

t.test('exempt namespaces', async (t) => {
  const inNs = (ns: string) => denyAll(ns)
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'netpol-guard']) {
    const p = inNs(ns)
    t.equal(evaluate(deletePolicy(p), viewOf({ namespaces: [ns], policies: [p] })), undefined, ns)
  }
  const cfg = config({ namespace: 'guard-system', exemptNamespaces: ['legacy'] })
  for (const ns of ['guard-system', 'legacy']) {
    const p = inNs(ns)
    t.equal(evaluate(deletePolicy(p), viewOf({ namespaces: [ns], policies: [p] }), cfg), undefined, `${ns} (config)`)
  }
  const p = inNs('team-x')
  const labelled = viewOf({ namespaces: [namespaceObject('team-x', { labels: { 'netpol-guard.io/exempt': 'true' } })], policies: [p] })
  t.equal(evaluate(deletePolicy(p), labelled), undefined, 'labelled exempt')
})

t.test('operations, resources and subresources it ignores', async (t) => {
  const p = denyAll('team-a')
  const view = withPolicies(p)
  t.equal(evaluate(createPolicy(p), view), undefined, 'CREATE')
  t.equal(evaluate(deletePolicy(p, { subResource: 'status' }), view), undefined, 'subresource')
  const other = admissionRequest({
    operation: 'DELETE',
    resource: { group: 'crd.projectcalico.org', resource: 'networkpolicies', kind: 'NetworkPolicy' },
    name: 'deny-all',
    namespace: 'team-a',
    oldObject: p,
  })
  t.equal(evaluate(other, view), undefined, 'a Calico namespaced NetworkPolicy is not a networking.k8s.io one')
  const upd = updatePolicy(p, p)
  upd.object = null
  t.equal(evaluate(upd, view), undefined, 'UPDATE without object')
})

t.test('policies of other namespaces do not count', async (t) => {
  const p = denyAll('team-a')
  const view = viewOf({ namespaces: ['team-a', 'team-b'], policies: [p, denyAll('team-b')] })
  t.ok(evaluate(deletePolicy(p), view))
})
