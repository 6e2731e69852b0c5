// The per-direction deny-all coverage analysis (src/policy/coverage.ts), table-driven.
import t from 'tap'
import type { NetworkPolicy } from '../src/k8s/types.js'
import {
  coverageLabel,
  coverageOf,
  denyAllPolicy,
  effectivePolicyTypes,
  isCovered,
  summarizePolicy,
  type PolicySummary,
} from '../src/policy/coverage.js'
import { fixture, networkPolicy, noFixtures } from './helpers/requests.js'

const np = (spec: Record<string, unknown>, name = 'p', labels?: Record<string, string>): NetworkPolicy =>
  networkPolicy('team-a', name, spec, labels)

t.test('effective policyTypes', async (t) => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['absent, no rules → Ingress', { podSelector: {} }, ['Ingress']],
    ['absent, ingress rules → Ingress', { podSelector: {}, ingress: [{}] }, ['Ingress']],
    ['absent, egress rules → Ingress + Egress', { podSelector: {}, egress: [{ ports: [{ port: 53 }] }] }, ['Ingress', 'Egress']],
    ['absent, empty egress list → Ingress', { podSelector: {}, egress: [] }, ['Ingress']],
    ['empty list behaves as absent (apiserver defaulting)', { podSelector: {}, policyTypes: [], egress: [{}] }, ['Ingress', 'Egress']],
    ['[Ingress]', { policyTypes: ['Ingress'], egress: [{}] }, ['Ingress']],
    ['[Egress]', { policyTypes: ['Egress'], ingress: [{}] }, ['Egress']],
    ['[Egress, Ingress] (any order)', { policyTypes: ['Egress', 'Ingress'] }, ['Ingress', 'Egress']],
    ['unknown entries ignored', { policyTypes: ['Ingress', 'Sideways', 7] }, ['Ingress']],
    ['no spec at all → Ingress', {}, ['Ingress']],
  ]
  for (const [name, spec, want] of cases) t.same([...effectivePolicyTypes(np(spec))].sort(), [...want].sort(), name)
  t.same([...effectivePolicyTypes({ kind: 'NetworkPolicy' })], ['Ingress'], 'no spec field')
  t.same([...effectivePolicyTypes({ spec: 'garbage' } as unknown as NetworkPolicy)], ['Ingress'], 'spec not an object')
})

t.test('which podSelectors select every pod', async (t) => {
  const cases: Array<[string, unknown, boolean]> = [
    ['podSelector: {}', {}, true],
    ['matchLabels: {}', { matchLabels: {} }, true],
    ['matchExpressions: []', { matchExpressions: [] }, true],
    ['matchLabels: {} and matchExpressions: []', { matchLabels: {}, matchExpressions: [] }, true],
    ['absent', undefined, true],
    ['null', null, true],
    ['matchLabels: {app: web}', { matchLabels: { app: 'web' } }, false],
    ['matchExpressions with an entry', { matchExpressions: [{ key: 'app', operator: 'Exists' }] }, false],
    ['matchLabels: {} but a matchExpression', { matchLabels: {}, matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, false],
    ['not an object', 'all()', false],
  ]
  for (const [name, sel, want] of cases) {
    const spec: Record<string, unknown> = { policyTypes: ['Ingress', 'Egress'] }
    if (sel !== undefined) spec.podSelector = sel
    const s = summarizePolicy(np(spec))
    t.equal(s.selectsAllPods, want, `${name}: selectsAllPods`)
    t.equal(s.coversIngress && s.coversEgress, want, `${name}: deny-all in both directions only when it selects every pod`)
  }
})

t.test('what one policy covers', async (t) => {
  type Row = [string, Record<string, unknown>, { ingress: boolean; egress: boolean }]
  const rows: Row[] = [
    ['deny-all, both types', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, { ingress: true, egress: true }],
    ['ingress-only deny', { podSelector: {}, policyTypes: ['Ingress'] }, { ingress: true, egress: false }],
    ['egress-only deny', { podSelector: {}, policyTypes: ['Egress'] }, { ingress: false, egress: true }],
    ['policyTypes absent, no rules → ingress only', { podSelector: {} }, { ingress: true, egress: false }],
    ['empty rule lists still deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] }, { ingress: true, egress: true }],
    [
      'an ingress rule uncovers ingress only',
      { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }] },
      { ingress: false, egress: true },
    ],
    [
      'an egress rule uncovers egress only',
      { podSelector: {}, policyTypes: ['Ingress', 'Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] },
      { ingress: true, egress: false },
    ],
    [
      'absent policyTypes with egress rules: Egress enforced but not denied',
      { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] },
      { ingress: true, egress: false },
    ],
    [
      'egress rules ignored when only Ingress is enforced',
      { podSelector: {}, policyTypes: ['Ingress'], egress: [{}] },
      { ingress: true, egress: false },
    ],
    [
      'ingress rules ignored when only Egress is enforced',
      { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] },
      { ingress: false, egress: true },
    ],
    ['non-empty selector covers nothing', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'] }, { ingress: false, egress: false }],
    [
      'fixture 004 allow-web covers nothing',
      {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
        policyTypes: ['Ingress'],
      },
      { ingress: false, egress: false },
    ],
  ]
  for (const [name, spec, want] of rows) {
    const s = summarizePolicy(np(spec))
    t.same({ ingress: s.coversIngress, egress: s.coversEgress }, want, name)
  }
})

t.test('namespace coverage from its policies', async (t) => {
  const S = (spec: Record<string, unknown>, name: string): PolicySummary => summarizePolicy(np(spec, name))
  const both = S({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, 'deny-all')
  const ingressOnly = S({ podSelector: {}, policyTypes: ['Ingress'] }, 'whatever-1')
  const egressOnly = S({ podSelector: { matchLabels: {} }, policyTypes: ['Egress'] }, 'zz-other-name')
  const withRules = S({ podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ podSelector: {} }] }], egress: [{ to: [{ podSelector: {} }] }] }, 'allow-same-ns')
  const narrow = S({ podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'] }, 'deny-web')

  const rows: Array<[string, PolicySummary[], { ingress: boolean; egress: boolean }, string]> = [
    ['no policies', [], { ingress: false, egress: false }, 'none'],
    ['one deny-all', [both], { ingress: true, egress: true }, 'both'],
    ['ingress-only deny', [ingressOnly], { ingress: true, egress: false }, 'ingress only'],
    ['egress-only deny', [egressOnly], { ingress: false, egress: true }, 'egress only'],
    ['split over two policies with any names', [ingressOnly, egressOnly], { ingress: true, egress: true }, 'both'],
    ['split, other order, plus unrelated policies', [narrow, egressOnly, withRules, ingressOnly], { ingress: true, egress: true }, 'both'],
    ['a select-all policy with rules does not cover', [withRules], { ingress: false, egress: false }, 'none'],
    ['a narrow deny does not cover', [narrow], { ingress: false, egress: false }, 'none'],
    ['rules elsewhere do not undo coverage', [both, withRules], { ingress: true, egress: true }, 'both'],
  ]
  for (const [name, policies, want, label] of rows) {
    const c = coverageOf(policies)
    t.same(c, want, name)
    t.equal(isCovered(c), want.ingress && want.egress, `${name}: isCovered`)
    t.equal(coverageLabel(c), label, `${name}: label`)
  }
  t.same(coverageOf(new Set([ingressOnly, egressOnly])), { ingress: true, egress: true }, 'any iterable')
})

t.test('allow-all detection per direction', async (t) => {
  type Row = [string, Record<string, unknown>, { ingress: boolean; egress: boolean }]
  const rows: Row[] = [
    ['ingress [{}]', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] }, { ingress: true, egress: false }],
    ['egress [{}]', { podSelector: {}, policyTypes: ['Egress'], egress: [{}] }, { ingress: false, egress: true }],
    ['both [{}]', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] }, { ingress: true, egress: true }],
    ['empty from and ports lists', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [], ports: [] }] }, { ingress: true, egress: false }],
    ['empty to list', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [] }] }, { ingress: false, egress: true }],
    ['null rule entry', { podSelector: {}, policyTypes: ['Ingress'], ingress: [null] }, { ingress: true, egress: false }],
    [
      'one allow-all among narrow rules',
      { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { a: 'b' } } }] }, {}] },
      { ingress: true, egress: false },
    ],
    ['absent policyTypes: ingress [{}] is enforced', { podSelector: {}, ingress: [{}] }, { ingress: true, egress: false }],
    ['absent policyTypes: egress [{}] makes Egress enforced', { podSelector: {}, egress: [{}] }, { ingress: false, egress: true }],
    ['egress [{}] with policyTypes [Ingress] is not enforced', { podSelector: {}, policyTypes: ['Ingress'], egress: [{}] }, { ingress: false, egress: false }],
    ['ingress [{}] with policyTypes [Egress] is not enforced', { podSelector: {}, policyTypes: ['Egress'], ingress: [{}] }, { ingress: false, egress: false }],
    ['rule with from', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] }, { ingress: false, egress: false }],
    ['rule with ports only', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 443 }] }] }, { ingress: false, egress: false }],
    ['rule with to', { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }] }] }, { ingress: false, egress: false }],
    ['egress rule with ports only', { podSelector: {}, policyTypes: ['Egress'], egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] }, { ingress: false, egress: false }],
    ['narrow podSelector with [{}]', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] }, { ingress: false, egress: false }],
    ['matchLabels: {} with [{}] selects all', { podSelector: { matchLabels: {} }, policyTypes: ['Ingress'], ingress: [{}] }, { ingress: true, egress: false }],
    ['no rules', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, { ingress: false, egress: false }],
  ]
  for (const [name, spec, want] of rows) {
    const s = summarizePolicy(np(spec))
    t.same({ ingress: s.allowAllIngress, egress: s.allowAllEgress }, want, name)
  }
})

t.test('summary fields: name and managed-by', async (t) => {
  const s = summarizePolicy(np({ podSelector: {} }, 'deny-all', { 'app.kubernetes.io/managed-by': 'netpol-guard' }))
  t.equal(s.name, 'deny-all')
  t.equal(s.managedByGuard, true)
  t.equal(summarizePolicy(np({}, 'x', { 'app.kubernetes.io/managed-by': 'helm' })).managedByGuard, false)
  t.equal(summarizePolicy({ spec: {} }).name, '', 'no metadata → empty name')
})

t.test('malformed input never throws and covers nothing it should not', async (t) => {
  const weird: unknown[] = [
    {},
    { spec: null },
    { spec: { podSelector: {}, policyTypes: 'Ingress' } },
    { spec: { podSelector: {}, ingress: 'all' } },
    { spec: { podSelector: {}, ingress: [42] } },
    { metadata: 'x', spec: { podSelector: [] } },
  ]
  for (const w of weird) t.doesNotThrow(() => summarizePolicy(w as NetworkPolicy), JSON.stringify(w))
  t.equal(summarizePolicy({ spec: { podSelector: {}, ingress: [42] } } as unknown as NetworkPolicy).allowAllIngress, false, 'a non-object rule is not allow-all')
  t.equal(summarizePolicy({ spec: { podSelector: {}, ingress: [42] } } as unknown as NetworkPolicy).coversIngress, false, 'nor deny-all')
})

t.test('the injected policy covers both directions', async (t) => {
  const p = denyAllPolicy('team-a', 'deny-all')
  const s = summarizePolicy(p)
  t.same({ i: s.coversIngress, e: s.coversEgress, m: s.managedByGuard, n: s.name }, { i: true, e: true, m: true, n: 'deny-all' })
  t.equal(p.metadata?.namespace, 'team-a')
})

t.test('recorded policies', { skip: noFixtures }, async (t) => {
  const deny = summarizePolicy(fixture('012').object as NetworkPolicy)
  t.same({ i: deny.coversIngress, e: deny.coversEgress }, { i: true, e: true }, '012 deny-all covers both')
  const upd = fixture('013')
  const after = summarizePolicy(upd.object as NetworkPolicy)
  const before = summarizePolicy(upd.oldObject as NetworkPolicy)
  t.same({ i: before.coversIngress, e: before.coversEgress }, { i: true, e: true }, '013 before: both')
  t.same({ i: after.coversIngress, e: after.coversEgress }, { i: true, e: false }, '013 after: ingress only')
  const web = summarizePolicy(fixture('004').object as NetworkPolicy)
  t.same({ i: web.coversIngress, e: web.coversEgress, a: web.allowAllIngress, s: web.selectsAllPods }, { i: false, e: false, a: false, s: false }, '004 allow-web')
})
