// `netpol-guard audit`: the pure report, and the command against the fake API server (output, exit codes).
import t from 'tap'
import { PassThrough } from 'node:stream'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { auditCommand, buildAuditReport, formatAuditTable } from '../src/audit.js'
import { defaultConfig } from '../src/config.js'
import { FakeApiServer } from './fake-apiserver.js'

const config = defaultConfig({ namespace: 'netpol-guard' })
const ns = (name: string, labels: Record<string, string> = {}, terminating = false): any => ({
  metadata: { name, labels, ...(terminating ? { deletionTimestamp: '2024-01-01T00:00:00Z' } : {}) },
  status: { phase: terminating ? 'Terminating' : 'Active' },
})
const np = (namespace: string, name: string, spec: any): any => ({ metadata: { namespace, name }, spec })
const DENY_ALL = { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }

t.test('buildAuditReport: coverage per namespace, allow-all, cluster-wide policies', async (t) => {
  const r = buildAuditReport({
    namespaces: [ns('kube-system'), ns('ok'), ns('in'), ns('eg'), ns('none'), ns('gone', {}, true), ns('open'), ns('ex', { 'netpol-guard.io/exempt': 'true' })],
    policies: [
      np('ok', 'deny-all', DENY_ALL),
      np('in', 'i', { podSelector: {}, policyTypes: ['Ingress'] }),
      np('eg', 'e', { podSelector: {}, policyTypes: ['Egress'] }),
      np('open', 'deny-all', DENY_ALL),
      np('open', 'allow-everything', { podSelector: {}, ingress: [{}], egress: [{}], policyTypes: ['Ingress', 'Egress'] }),
      np('ex', 'allow-in', { podSelector: {}, ingress: [{}] }),
    ],
    clusterWide: [
      { kind: config.clusterWideKinds[0], version: 'v1', items: [{ metadata: { name: 'default-deny' } }] },
      { kind: config.clusterWideKinds[4], items: [] },
    ],
  }, config)
  const cov = Object.fromEntries(r.namespaces.map((n) => [n.name, n.coverage]))
  t.same(cov, { eg: 'egress only', ex: 'exempt', gone: 'none', in: 'ingress only', 'kube-system': 'exempt', none: 'none', ok: 'both', open: 'both' })
  t.same(r.namespaces.filter((n) => !n.compliant).map((n) => n.name), ['eg', 'in', 'none'], 'terminating and exempt namespaces are not non-compliant')
  t.same(r.allowAll, [
    { namespace: 'open', policy: 'allow-everything', directions: ['ingress', 'egress'], exempt: false, counted: true },
    { namespace: 'ex', policy: 'allow-in', directions: ['ingress'], exempt: true, counted: false },
  ])
  t.same(r.clusterWidePolicies, [{ group: 'crd.projectcalico.org', version: 'v1', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy', name: 'default-deny', counted: true }])
  t.same(r.kindsNotServed, ['ciliumclusterwidenetworkpolicies.cilium.io'])
  t.equal(r.compliant, false)
  const text = formatAuditTable(r)
  t.match(text, /NAMESPACE\s+COVERAGE\s+POLICIES\s+STATUS/)
  t.match(text, /\nin\s+ingress only\s+1\s+NON-COMPLIANT\n/)
  t.match(text, /NON-COMPLIANT: 3 namespaces without deny-all coverage, 1 allow-all policy, 1 cluster-wide policy/)

  const good = buildAuditReport({ namespaces: [ns('ok'), ns('kube-system')], policies: [np('ok', 'x', DENY_ALL)], clusterWide: [] }, config)
  t.equal(good.compliant, true)
  t.match(formatAuditTable(good), /^COMPLIANT: 1 covered, 1 exempt, 2 namespaces$/m)
})

t.test('buildAuditReport: the namespace mode label wins either way; rules switched off are listed, not counted', async (t) => {
  const input = {
    namespaces: [ns('early', { 'netpol-guard.io/mode': 'enforce' }), ns('later'), ns('quiet', { 'netpol-guard.io/mode': 'dry-run' }), ns('open')],
    policies: [np('open', 'deny-all', DENY_ALL), np('open', 'allow-everything', { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] })],
    clusterWide: [{ kind: config.clusterWideKinds[0]!, version: 'v1', items: [{ metadata: { name: 'default-deny' } }] }],
  }
  const dryRun = buildAuditReport(input, defaultConfig({ namespace: 'netpol-guard', mode: 'dry-run' }))
  t.same(Object.fromEntries(dryRun.namespaces.map((n) => [n.name, n.dryRun])), { early: false, later: true, open: true, quiet: true })
  t.match(formatAuditTable(dryRun), /\nearly\s+none\s+0\s+NON-COMPLIANT\n/)
  t.match(formatAuditTable(dryRun), /\nlater\s+none\s+0\s+NON-COMPLIANT \(dry-run\)\n/)
  const enforce = buildAuditReport(input, config)
  t.same(Object.fromEntries(enforce.namespaces.map((n) => [n.name, n.dryRun])), { early: false, later: false, open: false, quiet: true })

  const rulesOff = defaultConfig({ namespace: 'netpol-guard', rules: { ...config.rules, 'no-allow-all': false, 'no-global-policy': false } })
  const covered = { ...input, namespaces: [ns('open')] }
  const off = buildAuditReport(covered, rulesOff)
  t.equal(off.compliant, true, 'what the guard does not refuse is not held against the cluster')
  t.match(off.summary, { allowAllPolicies: 1, allowAllPoliciesCounted: 0, clusterWidePolicies: 1, clusterWidePoliciesCounted: 0 })
  t.same(off.allowAll.map((a) => a.counted), [false])
  t.same(off.clusterWidePolicies.map((c) => c.counted), [false])
  const text = formatAuditTable(off)
  t.match(text, /allow-everything\s+ingress \(no-allow-all is off\)/)
  t.match(text, /default-deny \(no-global-policy is off\)/)
  t.match(text, /^COMPLIANT: 1 covered/m)
  const on = buildAuditReport(covered, config)
  t.equal(on.compliant, false)
  t.match(formatAuditTable(on), /NON-COMPLIANT: 1 allow-all policy, 1 cluster-wide policy \(1 namespaces\)/)
})

async function run(opts: { kubeconfigPath?: string; output: 'table' | 'json' }): Promise<{ code: number; out: string }> {
  const out = new PassThrough()
  let text = ''
  out.on('data', (c) => (text += c))
  const code = await auditCommand({ ...opts, config }, out)
  return { code, out: text }
}

t.test('auditCommand against a cluster: table, json, exit codes', async (t) => {
  const api = new FakeApiServer({
    customResources: [
      { group: 'crd.projectcalico.org', version: 'v1', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' },
      { group: 'cilium.io', version: 'v2', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy' },
    ],
  })
  await api.start()
  t.teardown(() => api.stop())
  const kubeconfigPath = api.writeKubeconfig()
  api.createNamespace('team-a')
  for (const n of ['default', 'team-a']) api.createPolicy(n, { metadata: { name: 'deny-all' }, spec: DENY_ALL })

  const ok = await run({ kubeconfigPath, output: 'table' })
  t.equal(ok.code, 0, ok.out)
  t.match(ok.out, /team-a\s+both/)
  t.match(ok.out, /2 of 9 configured kinds served/)

  api.createNamespace('team-b')
  api.createPolicy('team-b', { metadata: { name: 'in' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } })
  api.put(api.def('cilium.io', 'ciliumclusterwidenetworkpolicies')!, { metadata: { name: 'allow-dns' } })
  const bad = await run({ kubeconfigPath, output: 'json' })
  t.equal(bad.code, 1)
  const report = JSON.parse(bad.out)
  t.equal(report.compliant, false)
  t.match(report.namespaces.find((n: any) => n.name === 'team-b'), { coverage: 'ingress only', compliant: false, policies: ['in'] })
  t.same(report.clusterWidePolicies, [{ group: 'cilium.io', version: 'v2', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy', name: 'allow-dns', counted: true }])
  t.equal(report.kindsServed.length, 2, 'kinds not installed are skipped, not errors')

  await api.stop()
  const down = await run({ kubeconfigPath, output: 'table' })
  t.equal(down.code, 2)
  t.match(down.out, /cannot read the cluster/)
  const downJson = await run({ kubeconfigPath, output: 'json' })
  t.equal(downJson.code, 2)
  t.ok(JSON.parse(downJson.out).error)
})

t.test('auditCommand: unreadable kubeconfig is exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'))
  const missing = await run({ kubeconfigPath: join(dir, 'nope'), output: 'table' })
  t.equal(missing.code, 2)
  t.match(missing.out, /cannot load kubeconfig/)
  writeFileSync(join(dir, 'bad'), 'this: [is not: a kubeconfig')
  t.equal((await run({ kubeconfigPath: join(dir, 'bad'), output: 'json' })).code, 2)
})
