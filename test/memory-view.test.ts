// MemoryView: the in-memory cluster view both the state file and the watches fill. Checked against a plain model
// (maps of namespaces and policy lists) over random sequences of the operations the reflectors perform: what it
// answers, and the coverage it keeps with each namespace, must always be what the model's policies give.
import t from 'tap'
import fc from 'fast-check'
import type { Namespace, NetworkPolicy } from '../src/k8s/types.js'
import { coverageOf, summarizePolicy } from '../src/policy/coverage.js'
import type { NamespaceInfo } from '../src/view/cluster-view.js'
import { MemoryView, namespaceInfo } from '../src/view/memory-view.js'

// '123' and 'constructor': names a plain object would treat specially (an array index, an inherited key).
const NAMESPACES = ['team-a', 'team-b', 'team-c', 'kube-system', '123', 'constructor']
const POLICY_NAMES = ['deny-all', 'deny-ingress', 'allow-web', 'netpol-guard-deny-all']

function namespaceObject(name: string, labels: Record<string, string>, terminating = false): Namespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, creationTimestamp: '2026-01-02T03:04:05Z' }, status: { phase: terminating ? 'Terminating' : 'Active' } }
}

function policyObject(namespace: string, name: string, spec: Record<string, unknown>, managed: boolean): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, ...(managed ? { labels: { 'app.kubernetes.io/managed-by': 'netpol-guard' } } : {}) },
    spec,
  }
}

const specs = fc.constantFrom<Record<string, unknown>>(
  { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  { podSelector: {}, policyTypes: ['Ingress'] },
  { podSelector: {}, policyTypes: ['Egress'] },
  { podSelector: {} },
  { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'] },
  { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}] },
)
const labelSets = fc.constantFrom<Record<string, string>>(
  {},
  { team: 'a', 'kubernetes.io/metadata.name': 'x' },
  { 'netpol-guard.io/exempt': 'true', team: 'a' },
  { 'netpol-guard.io/mode': 'dry-run' },
  { 'netpol-guard.io/deny-all': 'injected', 'netpol-guard.io/mode': 'enforce', other: 'y' },
)

type Op =
  | { op: 'upsertNamespace'; ns: string; labels: Record<string, string>; terminating: boolean }
  | { op: 'deleteNamespace'; ns: string }
  | { op: 'upsertPolicy'; ns: string; name: string; spec: Record<string, unknown>; managed: boolean }
  | { op: 'deletePolicy'; ns: string; name: string }
  | { op: 'replaceNamespaces'; list: { ns: string; labels: Record<string, string>; terminating: boolean }[] }
  | { op: 'replacePolicies'; list: { ns: string; name: string; spec: Record<string, unknown>; managed: boolean }[] }

const ns = fc.constantFrom(...NAMESPACES)
const pname = fc.constantFrom(...POLICY_NAMES)
const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('upsertNamespace' as const), ns, labels: labelSets, terminating: fc.boolean() }),
  fc.record({ op: fc.constant('deleteNamespace' as const), ns }),
  fc.record({ op: fc.constant('upsertPolicy' as const), ns, name: pname, spec: specs, managed: fc.boolean() }),
  fc.record({ op: fc.constant('upsertPolicy' as const), ns, name: pname, spec: specs, managed: fc.boolean() }),
  fc.record({ op: fc.constant('deletePolicy' as const), ns, name: pname }),
  fc.record({ op: fc.constant('replaceNamespaces' as const), list: fc.array(fc.record({ ns, labels: labelSets, terminating: fc.boolean() }), { maxLength: 4 }) }),
  fc.record({
    op: fc.constant('replacePolicies' as const),
    list: fc.array(fc.record({ ns, name: pname, spec: specs, managed: fc.boolean() }), { maxLength: 8 }),
  }),
)

/** The guard's labels of a label set, as the view keeps them. */
function guardOnly(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k.startsWith('netpol-guard.io/')))
}

t.test('the view answers as a plain model of namespaces and policies does, coverage included', async (t) => {
  fc.assert(
    fc.property(fc.array(ops, { maxLength: 40 }), (sequence) => {
      const view = new MemoryView()
      const namespaces = new Map<string, { labels: Record<string, string>; terminating: boolean }>()
      const policies = new Map<string, Map<string, NetworkPolicy>>()
      const policiesOf = (n: string) => policies.get(n) ?? policies.set(n, new Map()).get(n)!
      for (const o of sequence) {
        switch (o.op) {
          case 'upsertNamespace':
            view.upsertNamespace(namespaceObject(o.ns, o.labels, o.terminating))
            namespaces.set(o.ns, { labels: o.labels, terminating: o.terminating })
            break
          case 'deleteNamespace':
            view.deleteNamespace(o.ns)
            namespaces.delete(o.ns)
            policies.delete(o.ns)
            break
          case 'upsertPolicy':
            view.upsertPolicy(o.ns, policyObject(o.ns, o.name, o.spec, o.managed))
            policiesOf(o.ns).set(o.name, policyObject(o.ns, o.name, o.spec, o.managed))
            break
          case 'deletePolicy':
            view.deletePolicy(o.ns, o.name)
            policies.get(o.ns)?.delete(o.name)
            break
          case 'replaceNamespaces': {
            view.replaceNamespaces(o.list.map((x) => namespaceObject(x.ns, x.labels, x.terminating)))
            const next = new Map(o.list.map((x) => [x.ns, { labels: x.labels, terminating: x.terminating }]))
            // a namespace that is gone takes its policies with it; policies of never-seen namespaces stay
            for (const name of namespaces.keys()) if (!next.has(name)) policies.delete(name)
            namespaces.clear()
            for (const [k, v] of next) namespaces.set(k, v)
            break
          }
          case 'replacePolicies':
            view.replacePolicies(o.list.map((x) => ({ namespace: x.ns, policy: policyObject(x.ns, x.name, x.spec, x.managed) })))
            policies.clear()
            for (const x of o.list) policiesOf(x.ns).set(x.name, policyObject(x.ns, x.name, x.spec, x.managed))
            break
        }
      }
      // what audit and the reconciler iterate
      if (JSON.stringify([...view.namespaceNames()].sort()) !== JSON.stringify([...namespaces.keys()].sort())) return false
      if (view.namespaceCount() !== namespaces.size) return false
      let policyCount = 0
      for (const m of policies.values()) policyCount += m.size
      if (view.policyCount() !== policyCount) return false
      for (const name of NAMESPACES) {
        const model = namespaces.get(name)
        const info = view.namespace(name)
        if (!model) {
          if (info !== undefined) return false
        } else if (!info || info.name !== name || info.terminating !== model.terminating) return false
        else if (JSON.stringify(info.labels) !== JSON.stringify(guardOnly(model.labels))) return false
        const expected = [...(policies.get(name)?.values() ?? [])].map(summarizePolicy)
        const got = view.policies(name)
        if (JSON.stringify([...got].sort((a, b) => a.name.localeCompare(b.name))) !== JSON.stringify(expected.sort((a, b) => a.name.localeCompare(b.name))))
          return false
        const cov = view.policyCoverage(name)
        const want = coverageOf(expected)
        if (cov.ingress !== want.ingress || cov.egress !== want.egress) return false
        // the state a request reads: the same labels, terminating state and coverage
        const state = view.namespaceState(name)
        if (!model) {
          if (state !== undefined) return false
        } else if (
          !state ||
          state.terminating !== model.terminating ||
          JSON.stringify(state.labels) !== JSON.stringify(guardOnly(model.labels)) ||
          state.coverage.ingress !== want.ingress ||
          state.coverage.egress !== want.egress
        )
          return false
      }
      return true
    }),
    { numRuns: 2000 },
  )
})

t.test('a namespace keeps only the guard labels, and one without any shares an empty frozen object', async (t) => {
  const view = new MemoryView()
  view.upsertNamespace(namespaceObject('plain', { team: 'a', 'kubernetes.io/metadata.name': 'plain' }))
  view.upsertNamespace(namespaceObject('other', {}))
  view.upsertNamespace(namespaceObject('exempt', { 'netpol-guard.io/exempt': 'true', team: 'b' }))
  t.same(view.namespace('plain')!.labels, {})
  t.equal(view.namespace('plain')!.labels, view.namespace('other')!.labels, 'shared')
  t.ok(Object.isFrozen(view.namespace('plain')!.labels))
  t.same(view.namespace('exempt')!.labels, { 'netpol-guard.io/exempt': 'true' })
  // a NamespaceInfo handed in (the standalone and test paths) is filtered and copied as well
  const info: NamespaceInfo = { name: 'given', labels: { 'netpol-guard.io/mode': 'dry-run', app: 'x' }, terminating: false, createdAt: 5 }
  view.upsertNamespace(info)
  t.same(view.namespace('given'), { name: 'given', labels: { 'netpol-guard.io/mode': 'dry-run' }, terminating: false, createdAt: 5 })
  ;(info.labels as Record<string, string>)['netpol-guard.io/mode'] = 'enforce'
  t.equal(view.namespace('given')!.labels['netpol-guard.io/mode'], 'dry-run', 'the caller object is not kept')
  // non-string label values are not labels
  t.same(namespaceInfo({ metadata: { name: 'odd', labels: { 'netpol-guard.io/exempt': true as unknown as string } } })!.labels, {})
  // what JSON and spreads see of a namespace: its info only, nothing of the view's bookkeeping
  view.upsertPolicy('exempt', policyObject('exempt', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, false))
  t.same(JSON.parse(JSON.stringify(view.namespace('exempt'))), { name: 'exempt', labels: { 'netpol-guard.io/exempt': 'true' }, terminating: false, createdAt: Date.parse('2026-01-02T03:04:05Z') })
  t.same({ ...view.namespace('exempt') }, { name: 'exempt', labels: { 'netpol-guard.io/exempt': 'true' }, terminating: false, createdAt: Date.parse('2026-01-02T03:04:05Z') })
})

t.test('namespaces in the same state share one state object and one label set', async (t) => {
  const view = new MemoryView()
  const denyAll = policyObject('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, true)
  for (const name of ['a', 'b', 'c']) {
    view.upsertNamespace(namespaceObject(name, { 'netpol-guard.io/deny-all': 'injected', team: name }))
    view.upsertPolicy(name, { ...denyAll, metadata: { ...denyAll.metadata, namespace: name } })
  }
  view.upsertNamespace(namespaceObject('d', { team: 'd', 'netpol-guard.io/deny-all': 'injected' }, true))
  view.upsertNamespace(namespaceObject('plain-1', {}))
  view.upsertNamespace(namespaceObject('plain-2', { team: 'x' }))
  t.equal(view.namespaceState('a'), view.namespaceState('b'), 'same labels, terminating state and coverage: one object')
  t.equal(view.namespaceState('a'), view.namespaceState('c'))
  t.equal(view.namespace('a')!.labels, view.namespace('d')!.labels, 'the label set is shared whatever the other labels')
  t.not(view.namespaceState('a'), view.namespaceState('d'), 'terminating and uncovered: another state')
  t.equal(view.namespaceState('plain-1'), view.namespaceState('plain-2'))
  t.ok(Object.isFrozen(view.namespaceState('a')) && Object.isFrozen(view.namespaceState('a')!.labels))
  t.same(view.namespaceState('a'), { labels: { 'netpol-guard.io/deny-all': 'injected' }, terminating: false, coverage: { ingress: true, egress: true } })
  // a policy change moves the namespace to the state it now has, and leaves the others
  view.deletePolicy('b', 'deny-all')
  t.same(view.namespaceState('b')!.coverage, { ingress: false, egress: false })
  t.equal(view.namespaceState('a'), view.namespaceState('c'))
  t.not(view.namespaceState('a'), view.namespaceState('b'))
})

t.test('past the bound on shared label sets, a namespace gets objects of its own and the same answers', async (t) => {
  const view = new MemoryView()
  for (let i = 0; i < 400; i++) view.upsertNamespace(namespaceObject(`n${i}`, { 'netpol-guard.io/mode': `v${i}`, 'netpol-guard.io/exempt': 'true' }))
  for (let i = 0; i < 400; i++) {
    const state = view.namespaceState(`n${i}`)!
    if (state.labels['netpol-guard.io/mode'] !== `v${i}` || state.labels['netpol-guard.io/exempt'] !== 'true' || state.terminating) {
      t.fail(`n${i}: ${JSON.stringify(state)}`)
      return
    }
    t.equal(view.namespace(`n${i}`)!.labels, state.labels, `n${i}: the record and the state hold the same labels`)
  }
  view.upsertNamespace(namespaceObject('again', { 'netpol-guard.io/exempt': 'true', 'netpol-guard.io/mode': 'v399' }))
  t.same(view.namespaceState('again')!.labels, { 'netpol-guard.io/mode': 'v399', 'netpol-guard.io/exempt': 'true' })
})

t.test('policies that arrive before their namespace count for it once it comes', async (t) => {
  const view = new MemoryView()
  view.upsertPolicy('early', policyObject('early', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, true))
  t.same(view.policyCoverage('early'), { ingress: true, egress: true }, 'an orphan list has its coverage too')
  t.equal(view.namespace('early'), undefined)
  view.upsertNamespace(namespaceObject('early', {}))
  t.same(view.policyCoverage('early'), { ingress: true, egress: true })
  view.deletePolicy('early', 'deny-all')
  t.same(view.policyCoverage('early'), { ingress: false, egress: false }, 'kept up to date on delete')
  t.same(view.policyCoverage('never-seen'), { ingress: false, egress: false })
})
