// require-deny-all: CREATE of a Pod or pod controller in a namespace without deny-all coverage is denied.
import t from 'tap'
import type { AdmissionRequest } from '../../src/k8s/types.js'
import { POD_WORKLOADS, type ResourceRef } from '../../src/policy/kinds.js'
import { requireDenyAll } from '../../src/rules/require-deny-all.js'
import type { MemoryView } from '../../src/view/memory-view.js'
import {
  ADMIN,
  admissionRequest,
  allowWeb,
  assertMessage,
  config,
  ctx,
  denyAll,
  denyEgress,
  denyIngress,
  fixture,
  namespaceObject,
  networkPolicy,
  noFixtures,
  NOW,
  objectOf,
  viewOf,
  workloadCreate,
} from '../helpers/requests.js'

const POD = POD_WORKLOADS[0]
const evaluate = (req: AdmissionRequest, view: MemoryView, cfg = config(), now = NOW) => requireDenyAll.evaluate(ctx(req, view, cfg, now))
const uncovered = (ns = 'team-a') => viewOf({ namespaces: [ns] })
const covered = (ns = 'team-a') => viewOf({ namespaces: [ns], policies: [denyAll(ns)] })

t.test('the contract lists Pod and seven controllers', async (t) => {
  t.same(
    POD_WORKLOADS.map((r) => r.kind).sort(),
    ['CronJob', 'DaemonSet', 'Deployment', 'Job', 'Pod', 'ReplicaSet', 'ReplicationController', 'StatefulSet'],
  )
})

t.test('every workload CREATE in an uncovered namespace is denied', async (t) => {
  for (const ref of POD_WORKLOADS) {
    const f = evaluate(workloadCreate(ref, 'team-a', 'web'), uncovered())
    assertMessage(t, f, 'require-deny-all', `${ref.kind} team-a/web`, [
      'namespace team-a',
      'ingress and egress',
      /podSelector: \{\}/,
      /Create one first/,
    ])
  }
})

t.test('the message says which direction is missing', async (t) => {
  const ingressOnly = viewOf({ namespaces: ['team-a'], policies: [denyIngress('team-a')] })
  const f1 = evaluate(workloadCreate(POD, 'team-a', 'web'), ingressOnly)
  assertMessage(t, f1, 'require-deny-all', 'Pod team-a/web', [/NetworkPolicy for egress\./])
  t.notMatch(f1?.message ?? '', /ingress and egress/)

  const egressOnly = viewOf({ namespaces: ['team-a'], policies: [denyEgress('team-a')] })
  const f2 = evaluate(workloadCreate(POD, 'team-a', 'web'), egressOnly)
  assertMessage(t, f2, 'require-deny-all', 'Pod team-a/web', [/NetworkPolicy for ingress\./])
  t.notMatch(f2?.message ?? '', /ingress and egress/)
})

t.test('covered namespaces allow every workload', async (t) => {
  const views: Array<[string, MemoryView]> = [
    ['one deny-all', covered()],
    ['two policies with any names', viewOf({ namespaces: ['team-a'], policies: [denyIngress('team-a', 'no-in'), denyEgress('team-a', 'zzz')] })],
    ['deny-all among other policies', viewOf({ namespaces: ['team-a'], policies: [allowWeb('team-a'), denyAll('team-a', 'baseline')] })],
    ['matchLabels: {} selects all', viewOf({ namespaces: ['team-a'], policies: [networkPolicy('team-a', 'd', { podSelector: { matchLabels: {} }, policyTypes: ['Ingress', 'Egress'] })] })],
  ]
  for (const [name, view] of views)
    for (const ref of POD_WORKLOADS) t.equal(evaluate(workloadCreate(ref, 'team-a', 'web'), view), undefined, `${name}: ${ref.kind}`)
})

t.test('policies that do not cover do not count', async (t) => {
  const views: Array<[string, MemoryView]> = [
    ['only allow-web', viewOf({ namespaces: ['team-a'], policies: [allowWeb('team-a')] })],
    ['deny-all in another namespace', viewOf({ namespaces: ['team-a', 'team-b'], policies: [denyAll('team-b')] })],
    ['select-all policy with rules', viewOf({ namespaces: ['team-a'], policies: [networkPolicy('team-a', 'open-ish', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }] })] })],
    ['policyTypes absent, no rules: ingress only', viewOf({ namespaces: ['team-a'], policies: [networkPolicy('team-a', 'd', { podSelector: {} })] })],
    ['namespace unknown to the view', viewOf()],
  ]
  for (const [name, view] of views) t.ok(evaluate(workloadCreate(POD, 'team-a', 'web'), view), name)
})

t.test('operations other than CREATE are ignored', async (t) => {
  for (const op of ['UPDATE', 'DELETE', 'CONNECT'] as const) {
    for (const ref of POD_WORKLOADS) {
      const obj = objectOf(ref, 'web', 'team-a')
      const req = admissionRequest({ operation: op, resource: ref, name: 'web', namespace: 'team-a', object: op === 'DELETE' ? null : obj, oldObject: obj })
      t.equal(evaluate(req, uncovered()), undefined, `${op} ${ref.kind}`)
    }
  }
})

t.test('subresources are ignored (pods/binding, pods/eviction, pods/ephemeralcontainers)', async (t) => {
  const binding = admissionRequest({
    operation: 'CREATE',
    resource: POD,
    name: 'web',
    namespace: 'team-a',
    subResource: 'binding',
    object: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'web', namespace: 'team-a' }, target: { kind: 'Node', name: 'node-1' } },
  })
  t.equal(evaluate(binding, uncovered()), undefined, 'pods/binding')
  const eviction = workloadCreate(POD, 'team-a', 'web', { subResource: 'eviction' })
  t.equal(evaluate(eviction, uncovered()), undefined, 'pods/eviction')
  const ephemeral = workloadCreate(POD, 'team-a', 'web', { subResource: 'ephemeralcontainers' })
  t.equal(evaluate(ephemeral, uncovered()), undefined, 'pods/ephemeralcontainers')
})

t.test('other resources are ignored', async (t) => {
  const others: ResourceRef[] = [
    { group: '', resource: 'configmaps', kind: 'ConfigMap' },
    { group: '', resource: 'services', kind: 'Service' },
    { group: 'networking.k8s.io', resource: 'networkpolicies', kind: 'NetworkPolicy' },
    { group: 'example.io', resource: 'deployments', kind: 'Deployment' },
  ]
  for (const ref of others) t.equal(evaluate(workloadCreate(ref, 'team-a', 'x'), uncovered()), undefined, `${ref.group}/${ref.resource}`)
})

t.test('exempt namespaces', async (t) => {
  for (const ns of ['kube-system', 'kube-public', 'kube-node-lease']) {
    t.equal(evaluate(workloadCreate(POD, ns, 'p'), uncovered(ns)), undefined, ns)
    t.equal(evaluate(workloadCreate(POD, ns, 'p'), viewOf()), undefined, `${ns} even when the view does not hold it`)
  }
  t.equal(evaluate(workloadCreate(POD, 'netpol-guard', 'p'), uncovered('netpol-guard')), undefined, "the guard's default namespace")
  const cfg = config({ namespace: 'security', exemptNamespaces: ['legacy', 'monitoring'] })
  t.equal(evaluate(workloadCreate(POD, 'security', 'p'), uncovered('security'), cfg), undefined, 'config.namespace')
  t.ok(evaluate(workloadCreate(POD, 'netpol-guard', 'p'), uncovered('netpol-guard'), cfg), 'the default name is not exempt once namespace is configured')
  t.equal(evaluate(workloadCreate(POD, 'legacy', 'p'), uncovered('legacy'), cfg), undefined, 'config.exemptNamespaces')
  t.equal(evaluate(workloadCreate(POD, 'monitoring', 'p'), uncovered('monitoring'), cfg), undefined, 'config.exemptNamespaces (2)')

  const labelled = viewOf({ namespaces: [namespaceObject('team-x', { labels: { 'netpol-guard.io/exempt': 'true' } })] })
  t.equal(evaluate(workloadCreate(POD, 'team-x', 'p'), labelled), undefined, 'netpol-guard.io/exempt: "true"')
  for (const v of ['false', 'True', 'yes', '']) {
    const view = viewOf({ namespaces: [namespaceObject('team-x', { labels: { 'netpol-guard.io/exempt': v } })] })
    t.ok(evaluate(workloadCreate(POD, 'team-x', 'p'), view), `exempt: "${v}" does not exempt`)
  }
})

t.test('a terminating namespace is left alone', async (t) => {
  const view = viewOf({ namespaces: [namespaceObject('team-a', { terminating: true })] })
  t.equal(evaluate(workloadCreate(POD, 'team-a', 'web'), view), undefined)
})

t.test('pending injection counts as covered within the grace period', async (t) => {
  const req = () => workloadCreate(POD_WORKLOADS[2], 'team-new', 'web')

  await t.test('promised by this process (markPending)', async (t) => {
    const view = uncovered('team-new')
    view.markPending('team-new', NOW)
    t.equal(evaluate(req(), view, config(), NOW), undefined, 'right after the promise')
    t.equal(evaluate(req(), view, config(), NOW + 60_000), undefined, 'at the end of the default 60 s')
    t.ok(evaluate(req(), view, config(), NOW + 60_001), 'after the grace period')
    t.ok(evaluate(req(), view, config({ injectionGraceSeconds: 5 }), NOW + 6_000), 'injectionGraceSeconds is honoured')
    t.equal(evaluate(req(), view, config({ injectionGraceSeconds: 120 }), NOW + 100_000), undefined, 'longer grace')
    view.clearPending('team-new')
    t.ok(evaluate(req(), view, config(), NOW), 'promise withdrawn')
  })

  await t.test('promise for the namespace in the view not yet holding it', async (t) => {
    const view = viewOf()
    view.markPending('team-new', NOW - 1000)
    t.equal(evaluate(req(), view), undefined)
  })

  await t.test('namespace labelled deny-all: injected, created recently (another replica answered /mutate)', async (t) => {
    const created = NOW - 10_000
    const view = viewOf({ namespaces: [namespaceObject('team-new', { createdAt: created, labels: { 'netpol-guard.io/deny-all': 'injected' } })] })
    t.equal(evaluate(req(), view, config(), NOW), undefined, '10 s after creation')
    t.equal(evaluate(req(), view, config(), created + 60_000), undefined, 'at 60 s')
    const late = evaluate(req(), view, config(), created + 61_000)
    assertMessage(t, late, 'require-deny-all', 'Deployment team-new/web', ['ingress and egress'])
    t.ok(evaluate(req(), view, config({ injectionGraceSeconds: 0 }), created + 1), 'grace 0: no grace')
  })

  await t.test('the label alone, without a recent creation, does not cover', async (t) => {
    const old = viewOf({ namespaces: [namespaceObject('team-new', { createdAt: NOW - 3600_000, labels: { 'netpol-guard.io/deny-all': 'injected' } })] })
    t.ok(evaluate(req(), old), 'created an hour ago')
    const other = viewOf({ namespaces: [namespaceObject('team-new', { createdAt: NOW - 1000, labels: { 'netpol-guard.io/deny-all': 'yes-please' } })] })
    t.ok(evaluate(req(), other), 'a different label value')
    const noLabel = viewOf({ namespaces: [namespaceObject('team-new', { createdAt: NOW - 1000 })] })
    t.ok(evaluate(req(), noLabel), 'recent but not labelled')
  })

  await t.test('once the injected policy is seen, coverage no longer depends on the clock', async (t) => {
    const view = uncovered('team-new')
    view.markPending('team-new', NOW)
    view.upsertPolicy('team-new', denyAll('team-new', 'deny-all', { 'app.kubernetes.io/managed-by': 'netpol-guard' }))
    t.equal(view.pendingInjection('team-new'), undefined, 'the promise is dropped')
    t.equal(evaluate(req(), view, config(), NOW + 3600_000), undefined)
  })
})

t.test('dryRun requests are judged like real ones', async (t) => {
  t.ok(evaluate(workloadCreate(POD, 'team-a', 'web', { dryRun: true }), uncovered()))
})

t.test('who asks does not matter', async (t) => {
  t.ok(evaluate(workloadCreate(POD, 'team-a', 'web', { userInfo: ADMIN }), uncovered()))
})

t.test('generateName is named when the name is not set yet', async (t) => {
  const req = admissionRequest({ operation: 'CREATE', resource: POD, namespace: 'team-a', object: objectOf(POD, undefined, 'team-a', 'web-7c9f-') })
  const f = evaluate(req, uncovered())
  assertMessage(t, f, 'require-deny-all', 'Pod team-a/web-7c9f-', [/generateName/])
})

t.test('a blank namespace is no namespace: nothing to look up, and no hole in a message', async (t) => {
  // Before, " " was looked up as a namespace and the denial read "namespace   has no deny-all".
  t.equal(evaluate(workloadCreate(POD, ' ', 'web'), uncovered(' ')), undefined, 'blank in the request and the object')
  const req = workloadCreate(POD, '\t', 'web', { object: objectOf(POD, 'web', 'team-a') })
  assertMessage(t, evaluate(req, uncovered()), 'require-deny-all', 'Pod team-a/web', ['namespace team-a has no deny-all'])
})

t.test('recorded Pod CREATE (fixture 011)', { skip: noFixtures }, async (t) => {
  const f = evaluate(fixture('011'), uncovered())
  assertMessage(t, f, 'require-deny-all', 'Pod team-a/web-0', ['namespace team-a', 'ingress and egress', 'podSelector: {}'])
  t.equal(evaluate(fixture('011'), covered()), undefined, 'allowed with deny-all')
  const viewFrom012 = viewOf({ namespaces: ['team-a'] })
  viewFrom012.upsertPolicy('team-a', fixture('012').object!)
  t.equal(evaluate(fixture('011'), viewFrom012), undefined, 'allowed with the recorded deny-all (012)')
  const after013 = viewOf({ namespaces: ['team-a'] })
  after013.upsertPolicy('team-a', fixture('013').object!)
  assertMessage(t, evaluate(fixture('011'), after013), 'require-deny-all', 'Pod team-a/web-0', [/NetworkPolicy for egress\./])
})
