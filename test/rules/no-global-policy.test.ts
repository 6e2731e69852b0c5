// no-global-policy: CREATE/UPDATE of a cluster-wide network policy is denied, DELETE always allowed.
import t from 'tap'
import type { AdmissionRequest, KubeObject, Operation } from '../../src/k8s/types.js'
import { DEFAULT_CLUSTER_WIDE_KINDS, NETWORK_POLICIES, type ResourceRef } from '../../src/policy/kinds.js'
import { noGlobalPolicy } from '../../src/rules/no-global-policy.js'
import {
  ADMIN,
  admissionRequest,
  assertMessage,
  config,
  createPolicy,
  ctx,
  DEVELOPER,
  denyAll,
  fixture,
  noFixtures,
  objectOf,
  serviceAccount,
} from '../helpers/requests.js'

const evaluate = (req: AdmissionRequest, cfg = config()) => noGlobalPolicy.evaluate(ctx(req, undefined, cfg))

function clusterWide(ref: ResourceRef, operation: Operation, name = 'global-1', extra: Partial<Parameters<typeof admissionRequest>[0]> = {}): AdmissionRequest {
  const obj = objectOf(ref, name)
  return admissionRequest({
    operation,
    resource: ref,
    name,
    object: operation === 'DELETE' ? null : obj,
    oldObject: operation === 'CREATE' ? null : obj,
    ...extra,
  })
}

t.test('every kind of the default list is denied on CREATE and UPDATE, allowed on DELETE', async (t) => {
  t.equal(DEFAULT_CLUSTER_WIDE_KINDS.length, 9, 'the contract lists nine group/resource pairs')
  for (const ref of DEFAULT_CLUSTER_WIDE_KINDS) {
    for (const op of ['CREATE', 'UPDATE'] as const) {
      const f = evaluate(clusterWide(ref, op))
      assertMessage(t, f, 'no-global-policy', `${ref.kind} global-1`, [ref.group, /namespaced NetworkPolicy/])
    }
    t.equal(evaluate(clusterWide(ref, 'DELETE')), undefined, `${ref.group}/${ref.resource} DELETE allowed`)
    t.equal(evaluate(clusterWide(ref, 'CONNECT')), undefined, `${ref.group}/${ref.resource} CONNECT ignored`)
  }
})

t.test('both Calico API groups, both Calico kinds', async (t) => {
  for (const group of ['crd.projectcalico.org', 'projectcalico.org']) {
    for (const [resource, kind] of [['globalnetworkpolicies', 'GlobalNetworkPolicy'], ['stagedglobalnetworkpolicies', 'StagedGlobalNetworkPolicy']]) {
      const f = evaluate(clusterWide({ group, resource, kind }, 'CREATE', 'gnp'))
      assertMessage(t, f, 'no-global-policy', `${kind} gnp`, [`(${group})`])
    }
  }
  // The Antrea and the upstream ClusterNetworkPolicy share a resource name; both are refused, each in its group.
  for (const group of ['crd.antrea.io', 'policy.networking.k8s.io'])
    t.ok(evaluate(clusterWide({ group, resource: 'clusternetworkpolicies', kind: 'ClusterNetworkPolicy' }, 'CREATE')), group)
})

t.test('whoever asks: privileged users are denied too', async (t) => {
  for (const user of [ADMIN, DEVELOPER, serviceAccount('netpol-guard', 'netpol-guard')])
    t.ok(evaluate(clusterWide(DEFAULT_CLUSTER_WIDE_KINDS[0], 'CREATE', 'gnp', { userInfo: user })), String(user.username))
})

t.test('server-side dry-run is validated like a real request', async (t) => {
  t.ok(evaluate(clusterWide(DEFAULT_CLUSTER_WIDE_KINDS[0], 'CREATE', 'gnp', { dryRun: true })))
})

t.test('recorded requests', { skip: noFixtures }, async (t) => {
  for (const id of ['006', '007', '008']) {
    const f = evaluate(fixture(id))
    assertMessage(t, f, 'no-global-policy', 'GlobalNetworkPolicy default-deny-egress', [/namespaced NetworkPolicy/])
  }
  assertMessage(t, evaluate(fixture('009')), 'no-global-policy', 'CiliumClusterwideNetworkPolicy ccnp-allow-dns', ['cilium.io'])
  t.equal(evaluate(fixture('010')), undefined, '010 CiliumClusterwideNetworkPolicy DELETE allowed')
  t.equal(evaluate(fixture('037')), undefined, '037 GlobalNetworkPolicy DELETE allowed')

  const upd = fixture('006')
  upd.operation = 'UPDATE'
  upd.oldObject = structuredClone(upd.object)
  t.ok(evaluate(upd), 'UPDATE of a recorded GlobalNetworkPolicy denied')
})

t.test('the UPDATE that completes a DELETE (finalizer removal) is allowed', async (t) => {
  const ref = DEFAULT_CLUSTER_WIDE_KINDS[5]
  const req = clusterWide(ref, 'UPDATE', 'anp')
  const meta = { name: 'anp', deletionTimestamp: '2026-11-27T15:00:00Z' }
  req.object = { ...req.object, metadata: { ...meta, finalizers: [] } as KubeObject['metadata'] }
  req.oldObject = { ...req.oldObject, metadata: { ...meta, finalizers: ['example.io/cleanup'] } as KubeObject['metadata'] }
  t.equal(evaluate(req), undefined)
})

t.test('subresources (status written by controllers) are ignored', async (t) => {
  for (const ref of DEFAULT_CLUSTER_WIDE_KINDS)
    t.equal(evaluate(clusterWide(ref, 'UPDATE', 'x', { subResource: 'status' })), undefined, `${ref.resource}/status`)
})

t.test('the list is configurable', async (t) => {
  const onlyCilium = config({ clusterWideKinds: [{ group: 'cilium.io', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy' }] })
  t.ok(evaluate(clusterWide(DEFAULT_CLUSTER_WIDE_KINDS[4], 'CREATE'), onlyCilium), 'listed kind denied')
  t.equal(evaluate(clusterWide(DEFAULT_CLUSTER_WIDE_KINDS[0], 'CREATE'), onlyCilium), undefined, 'Calico no longer listed: allowed')

  const custom: ResourceRef = { group: 'example.io', resource: 'meshpolicies', kind: 'MeshPolicy' }
  const cfg = config({ clusterWideKinds: [custom] })
  assertMessage(t, evaluate(clusterWide(custom, 'CREATE', 'mesh'), cfg), 'no-global-policy', 'MeshPolicy mesh', ['example.io'])
  t.equal(evaluate(clusterWide(custom, 'CREATE'), config({ clusterWideKinds: [] })), undefined, 'empty list: nothing refused')

  // A request lacking kind still gets a kind in the message, from the configured list.
  const noKind = clusterWide(custom, 'CREATE', 'mesh')
  delete (noKind as { kind?: unknown }).kind
  assertMessage(t, evaluate(noKind, cfg), 'no-global-policy', 'MeshPolicy mesh')
})

t.test('a group or resource that merely looks alike is not matched', async (t) => {
  t.equal(evaluate(clusterWide({ group: 'projectcalico.org', resource: 'networkpolicies', kind: 'NetworkPolicy' }, 'CREATE')), undefined, 'Calico namespaced NetworkPolicy')
  t.equal(evaluate(clusterWide({ group: 'cilium.io', resource: 'ciliumnetworkpolicies', kind: 'CiliumNetworkPolicy' }, 'CREATE')), undefined, 'CiliumNetworkPolicy')
  t.equal(evaluate(clusterWide({ group: 'example.io', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' }, 'CREATE')), undefined, 'other group')
})

t.test('namespaced NetworkPolicy untouched', async (t) => {
  t.equal(evaluate(createPolicy(denyAll('team-a'))), undefined)
  t.equal(evaluate(admissionRequest({ operation: 'CREATE', resource: NETWORK_POLICIES, name: 'x', namespace: 'team-a' })), undefined)
})

t.test('generateName is named when the name is not set yet', async (t) => {
  const ref = DEFAULT_CLUSTER_WIDE_KINDS[0]
  const req = admissionRequest({ operation: 'CREATE', resource: ref, object: objectOf(ref, undefined, undefined, 'gnp-') })
  assertMessage(t, evaluate(req), 'no-global-policy', 'GlobalNetworkPolicy gnp-', [/generateName/])
})

t.test('a blank kind or name in the request leaves no hole in the message', async (t) => {
  // Found by the fuzz test: request.kind.kind " " gave "[no-global-policy]   default-deny-egress (...) is refused".
  const gnp = DEFAULT_CLUSTER_WIDE_KINDS.find((r) => r.resource === 'globalnetworkpolicies')!
  const blankKind = clusterWide(gnp, 'CREATE', 'gnp-a')
  blankKind.kind = { group: gnp.group, version: 'v1', kind: ' ' }
  assertMessage(t, evaluate(blankKind), 'no-global-policy', `[no-global-policy] GlobalNetworkPolicy gnp-a (${gnp.group}) is refused`)

  const blankName = clusterWide(gnp, 'CREATE', '  ')
  blankName.object = objectOf(gnp, '\t')
  assertMessage(t, evaluate(blankName), 'no-global-policy', `[no-global-policy] GlobalNetworkPolicy (unnamed) (${gnp.group}) is refused`)

  // No kind in the request, nor in the configured list: the resource still says what it is about.
  const unknown = clusterWide(gnp, 'CREATE', 'gnp-b')
  unknown.kind = { group: gnp.group, version: 'v1', kind: '' }
  t.match(evaluate(unknown, config({ clusterWideKinds: [{ group: gnp.group, resource: 'globalnetworkpolicies', kind: '' }] }))?.message, /^\[no-global-policy\] globalnetworkpolicies gnp-b /)
})
