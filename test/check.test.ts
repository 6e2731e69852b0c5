import t from 'tap'
import { dirname, join } from 'node:path'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { runCli } from './helpers/cli.js'
import { DEMO_STATE, ROOT } from './helpers/server.js'

const run = runCli

const ex = (f: string) => join(ROOT, 'examples', 'manifests', f)

/** A file in a fresh temporary directory; YAML documents given as a list are joined with `---`. */
function tempFile(name: string, content: string | string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'npg-check-')), name)
  writeFileSync(path, Array.isArray(content) ? content.join('\n---\n') : content)
  return path
}

t.test('a new namespace and its workload in one file pass: the namespace is injected', async (t) => {
  const r = await run(['check', ex('team-c.yaml')])
  t.equal(r.code, 0, r.stdout + r.stderr)
  t.same(r.lines, [
    'ALLOW Namespace team-c (deny-all NetworkPolicy injected)',
    'ALLOW NetworkPolicy team-c/allow-web-ingress',
    'ALLOW Deployment team-c/web',
  ])
  t.equal(r.stderr, '3 objects: 3 allowed, 0 warned, 0 denied\n', 'the summary, on stderr')
})

t.test('non-compliant manifests are denied with the rule and the fix, exit 1', async (t) => {
  const r = await run(['check', '--state', DEMO_STATE, ex('non-compliant.yaml')])
  t.equal(r.code, 1)
  t.equal(r.lines.length, 5)
  t.match(r.lines[0], /^DENY Deployment team-b\/api \[require-deny-all\] .*egress/)
  t.match(r.lines[1], /^DENY NetworkPolicy team-a\/allow-all-egress \[no-allow-all\] /)
  t.match(r.lines[2], /^DENY NetworkPolicy team-a\/deny-all \[protect-deny-all\] /, 'an apply of an existing policy is an UPDATE')
  t.match(r.lines[3], /^DENY GlobalNetworkPolicy allow-dns \[no-global-policy\] /)
  t.match(r.lines[4], /^DENY CiliumClusterwideNetworkPolicy open-ingress \[no-global-policy\] /)
  t.match(r.stderr, /5 objects: 0 allowed, 0 warned, 5 denied/)
})

t.test('dry-run mode warns instead, exit 0; json output', async (t) => {
  const r = await run(['check', '--state', DEMO_STATE, '--mode', 'dry-run', '--output', 'json', ex('non-compliant.yaml')])
  t.equal(r.code, 0)
  const doc = JSON.parse(r.stdout)
  t.equal(doc.mode, 'dry-run')
  t.equal(doc.summary.warned, 5)
  t.equal(doc.results[3].findings[0].rule, 'no-global-policy')
  t.equal(doc.results[0].verdict, 'WARN')
})

t.test('order matters: a workload before its namespace deny-all is refused', async (t) => {
  const f = tempFile('m.yaml', [
    'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: fresh}\nspec: {containers: [{name: c, image: x}]}',
    'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: block, namespace: fresh}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}',
    'apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-, namespace: fresh}\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}',
  ])
  const r = await run(['check', f])
  t.equal(r.code, 1)
  t.match(r.lines[0], /^DENY Pod fresh\/p \[require-deny-all\]/)
  t.equal(r.lines[1], 'ALLOW NetworkPolicy fresh/block')
  t.equal(r.lines[2], 'ALLOW Job fresh/migrate-*')
})

t.test('bad input exits 2 naming the file', async (t) => {
  const broken = tempFile('broken.yaml', 'kind: [unclosed\n')
  let r = await run(['check', broken])
  t.equal(r.code, 2)
  t.match(r.stderr, broken)
  r = await run(['check', join(dirname(broken), 'missing.yaml')])
  t.equal(r.code, 2)
  t.match(r.stderr, /missing\.yaml: cannot read file \(ENOENT\)/)
  const nokind = tempFile('nokind.yaml', 'apiVersion: v1\nmetadata: {name: x}\n')
  r = await run(['check', nokind])
  t.equal(r.code, 2)
  t.match(r.stderr, /has no kind/)
  r = await run(['check'])
  t.equal(r.code, 2)
  r = await run(['check', '--mode', 'sometimes', ex('team-c.yaml')])
  t.equal(r.code, 2)
  t.match(r.stderr, /--mode must be enforce or dry-run/)
  r = await run(['check', '--state', broken, ex('team-c.yaml')])
  t.equal(r.code, 2)
  // YAML aliases: one to nothing, and more expansions than any manifest needs. Bad input (2), not a denial (1).
  const many = tempFile('many.yaml', `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: many, namespace: team-a}\ndata:\n  k0: &v same\n${Array.from({ length: 101 }, (_, i) => `  k${i + 1}: *v\n`).join('')}`)
  r = await run(['check', many])
  t.equal(r.code, 2)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace')
  t.match(r.stderr, /many\.yaml: document 1: not valid YAML: Excessive alias count/)
  r = await run(['check', '--state', many, ex('team-c.yaml')])
  t.equal(r.code, 2)
  const dangling = tempFile('dangling.yaml', ['apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: *nope}'])
  r = await run(['check', dangling])
  t.equal(r.code, 2)
  t.match(r.stderr, /dangling\.yaml: document 2: not valid YAML: /)
  // A List whose items are not a list.
  r = await run(['check', tempFile('list.yaml', 'apiVersion: v1\nkind: List\nitems: notalist\n')])
  t.equal(r.code, 2)
  t.match(r.stderr, /document 1: List items must be a list, got string/)
  // A key twice in one mapping: refused, as kubectl's strict field validation refuses it, not the last one checked.
  const dup = tempFile('dup.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  namespace: team-b\nmetadata:\n  name: y\n  namespace: default\nspec: {}\n')
  r = await run(['check', dup])
  t.equal(r.code, 2)
  t.equal(r.stderr, `netpol-guard: ${dup}: document 1: not valid YAML/JSON: Map keys must be unique at line 6, column 1\n`)
})

t.test('a name holding a line break cannot start a row of its own', async (t) => {
  const odd = tempFile('odd.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: "a\\nALLOW Pod x/y"\n  namespace: team-b\nspec: {}\n')
  const r = await run(['check', '--state', DEMO_STATE, odd])
  t.equal(r.code, 1)
  t.equal(r.lines.length, 1, 'one line for one object')
  t.match(r.lines[0], /^DENY Pod team-b\/a ALLOW Pod x\/y \[require-deny-all\] /)
})

t.test('a config file switches rules off and adds exemptions', async (t) => {
  const cfg = tempFile('config.yaml', 'rules:\n  no-global-policy: false\nexemptNamespaces: [team-b]\n')
  const r = await run(['check', '--config', cfg, '--state', DEMO_STATE, ex('non-compliant.yaml')])
  t.match(r.lines[0], /^ALLOW Deployment team-b\/api$/)
  t.match(r.lines[3], /^ALLOW GlobalNetworkPolicy allow-dns$/)
  const bad = tempFile('bad.yaml', 'rules:\n  no-such-rule: true\n')
  const r2 = await run(['check', '--config', bad, ex('team-c.yaml')])
  t.equal(r2.code, 2)
  t.match(r2.stderr, /unknown rule "no-such-rule"/)
})

t.test('re-applying namespaces that already carry guard labels is not a label change', async (t) => {
  const f = tempFile('ns.yaml', [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {kubernetes.io/metadata.name: team-a, netpol-guard.io/deny-all: injected}}',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {kubernetes.io/metadata.name: legacy, netpol-guard.io/exempt: "true"}}',
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: team-b, labels: {kubernetes.io/metadata.name: team-b, netpol-guard.io/exempt: "true"}}',
  ])
  const r = await run(['check', '--state', DEMO_STATE, f])
  t.equal(r.lines[0], 'ALLOW Namespace team-a')
  t.equal(r.lines[1], 'ALLOW Namespace legacy')
  t.match(r.lines[2], /^DENY Namespace team-b \[protect-guard-labels\] .* may not set netpol-guard\.io\/exempt=true/)
  t.equal(r.code, 1)
})

t.test('- reads the manifests from standard input', async (t) => {
  const text = readFileSync(ex('team-c.yaml'), 'utf8')
  const r = await run(['check', '-'], text)
  t.equal(r.code, 0, r.stderr)
  t.same(r.lines, (await run(['check', ex('team-c.yaml')])).lines, 'the same as from the file')
  const denied = await run(['check', '--state', DEMO_STATE, '-o', 'json', '-'], readFileSync(ex('non-compliant.yaml'), 'utf8'))
  t.equal(denied.code, 1)
  t.ok(JSON.parse(denied.stdout).results.every((x: { source: string }) => x.source === '-'))
  const bad = await run(['check', '-'], 'kind: [unclosed\n')
  t.equal(bad.code, 2)
  t.match(bad.stderr, /^netpol-guard: \(stdin\): document 1: not valid YAML/)
})
