// no-allow-all: a NetworkPolicy selecting every pod with a rule allowing everything, in an enforced direction, is denied.
import t from 'tap'
import type { AdmissionRequest, NetworkPolicy } from '../../src/k8s/types.js'
import { NETWORK_POLICIES } from '../../src/policy/kinds.js'
import { noAllowAll } from '../../src/rules/no-allow-all.js'
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
  fixture,
  namespaceObject,
  networkPolicy,
  noFixtures,
  updatePolicy,
  viewOf,
} from '../helpers/requests.js'

const evaluate = (req: AdmissionRequest, view: MemoryView = viewOf({ namespaces: ['team-a'] }), cfg = config()) =>
  noAllowAll.evaluate(ctx(req, view, cfg))
const np = (spec: Record<string, unknown>, name = 'open', ns = 'team-a'): NetworkPolicy => networkPolicy(ns, name, spec)

const allowAllIngress = np({ podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] }, 'allow-all-ingress')
const allowAllEgress = np({ podSelector: {}, policyTypes: ['Egress'], egress: [{}] }, 'allow-all-egress')
const allowAllBoth = np({ podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] }, 'allow-all')

t.test('CREATE and UPDATE denied for ingress [{}], egress [{}] and both', async (t) => {
  const cases: Array<[NetworkPolicy, Array<string | RegExp>]> = [
    [allowAllIngress, [/ingress rule without from\/ports/, /all incoming traffic/, /needed peers \(from\) and ports/]],
    [allowAllEgress, [/egress rule without to\/ports/, /all outgoing traffic/, /needed peers \(to\) and ports/]],
    [allowAllBoth, [/ingress rule .* egress rule/, /all traffic in and out/, /needed peers \(from\/to\) and ports/]],
  ]
  for (const [p, phrases] of cases) {
    const name = p.metadata!.name!
    const obj = `NetworkPolicy team-a/${name}`
    assertMessage(t, evaluate(createPolicy(p)), 'no-allow-all', obj, [/selects every pod/, /deny-all/, ...phrases])
    assertMessage(t, evaluate(updatePolicy(denyAll('team-a', name), p)), 'no-allow-all', obj, phrases)
  }
})

t.test('only in a direction the policy enforces', async (t) => {
  const rows: Array<[string, Record<string, unknown>, boolean]> = [
    ['egress [{}] with policyTypes [Ingress]', { podSelector: {}, policyTypes: ['Ingress'], egress: [{}] }, false],
    ['ingress [{}] with policyTypes [Egress]', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }, false],
    ['ingress [{}], policyTypes absent (Ingress)', { podSelector: {}, ingress: [{}] }, true],
    ['egress [{}], policyTypes absent (Egress inferred from the rule)', { podSelector: {}, egress: [{}] }, true],
    ['egress [{}] with policyTypes [Ingress, Egress]', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], egress: [{}] }, true],
  ]
  for (const [name, spec, deny] of rows) t.equal(evaluate(createPolicy(np(spec))) !== undefined, deny, name)
})

t.test('rule shapes that count as allow-all', async (t) => {
  const rows: Array<[string, Record<string, unknown>]> = [
    ['from: [] and ports: []', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [], ports: [] }] }],
    ['to: []', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [] }] }],
    ['one open rule among narrow ones', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { a: 'b' } } }] }, {}] }],
    ['matchLabels: {} selects every pod', { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [{}] }],
    ['matchExpressions: [] selects every pod', { podSelector: { matchExpressions: [] }, policyTypes: ['Egress'], egress: [{}] }],
  ]
  for (const [name, spec] of rows) t.ok(evaluate(createPolicy(np(spec))), name)
})

t.test('allowed: narrow selector, rules with from/to or ports, no rules', async (t) => {
  const rows: Array<[string, Record<string, unknown>]> = [
    ['non-empty podSelector with [{}]', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] }],
    ['matchExpressions selector with [{}]', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['web'] }] }, policyTypes: ['Ingress'], ingress: [{}] }],
    ['ingress rule with from', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] }],
    ['ingress rule with ports', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 8080, protocol: 'TCP' }] }] }],
    ['egress rule with to', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }] }] }],
    ['egress rule with ports (DNS)', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }] }],
    ['deny-all (no rules)', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }],
  ]
  for (const [name, spec] of rows) {
    t.equal(evaluate(createPolicy(np(spec))), undefined, `CREATE: ${name}`)
    t.equal(evaluate(updatePolicy(denyAll('team-a', 'open'), np(spec))), undefined, `UPDATE: ${name}`)
  }
  t.equal(evaluate(createPolicy(allowWeb('team-a'))), undefined, 'allow-web')
})

t.test('recorded NetworkPolicy CREATEs are allowed', { skip: noFixtures }, async (t) => {
  for (const id of ['004', '012']) t.equal(evaluate(fixture(id)), undefined, id)
  t.equal(evaluate(fixture('013')), undefined, '013 UPDATE')
  const open = fixture('012')
  ;(open.object as NetworkPolicy).spec = { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}] }
  assertMessage(t, evaluate(open), 'no-allow-all', 'NetworkPolicy team-a/deny-all', [/all incoming traffic/])
})

t.test('operations and subresources it ignores', async (t) => {
  t.equal(evaluate(deletePolicy(allowAllBoth)), undefined, 'DELETE of an allow-all policy')
  t.equal(evaluate(createPolicy(allowAllBoth, { operation: 'CONNECT' })), undefined, 'CONNECT')
  t.equal(evaluate(createPolicy(allowAllBoth, { subResource: 'status' })), undefined, 'status subresource')
  const calico = admissionRequest({
    operation: 'CREATE',
    resource: { group: 'crd.projectcalico.org', resource: 'networkpolicies', kind: 'NetworkPolicy' },
    name: 'open',
    namespace: 'team-a',
    object: allowAllBoth,
  })
  t.equal(evaluate(calico), undefined, 'another group')
  const noObject = createPolicy(allowAllBoth)
  noObject.object = null
  t.equal(evaluate(noObject), undefined, 'no object')
})

t.test('the UPDATE that completes a deletion (finalizer removal) is allowed', async (t) => {
  const dying = structuredClone(allowAllBoth)
  dying.metadata = { ...dying.metadata, deletionTimestamp: '2026-11-27T15:00:00Z' }
  t.equal(evaluate(updatePolicy(dying, dying)), undefined)
})

t.test('whoever asks', async (t) => {
  t.ok(evaluate(createPolicy(allowAllIngress, { userInfo: ADMIN })), 'system:masters denied too')
  t.ok(evaluate(createPolicy(allowAllIngress, { dryRun: true })), 'server-side dry-run judged the same')
})

t.test('exempt namespaces', async (t) => {
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease', 'netpol-guard'])
    t.equal(evaluate(createPolicy(np({ podSelector: {}, ingress: [{}] }, 'open', ns)), viewOf({ namespaces: [ns] })), undefined, ns)
  const cfg = config({ namespace: 'guard-system', exemptNamespaces: ['legacy'] })
  for (const ns of ['guard-system', 'legacy'])
    t.equal(evaluate(createPolicy(np({ podSelector: {}, ingress: [{}] }, 'open', ns)), viewOf({ namespaces: [ns] }), cfg), undefined, `${ns} (config)`)
  const labelled = viewOf({ namespaces: [namespaceObject('team-x', { labels: { 'netpol-guard.io/exempt': 'true' } })] })
  t.equal(evaluate(createPolicy(np({ podSelector: {}, ingress: [{}] }, 'open', 'team-x')), labelled), undefined, 'labelled exempt')
  t.ok(evaluate(createPolicy(np({ podSelector: {}, ingress: [{}] }, 'open', 'team-y')), viewOf()), 'a namespace unknown to the view is not exempt')
})

t.test('generateName is named when the name is not set yet', async (t) => {
  const p = np({ podSelector: {}, ingress: [{}] })
  p.metadata = { generateName: 'open-', namespace: 'team-a' }
  const req = admissionRequest({ operation: 'CREATE', resource: NETWORK_POLICIES, namespace: 'team-a', object: p })
  assertMessage(t, evaluate(req), 'no-allow-all', 'NetworkPolicy team-a/open-', [/generateName/])
})
