// The kustomize manifests: every overlay renders, every object validates against the Kubernetes schemas
// (kubernetes-models), the webhook rules match what the code's rules act on (both directions), RBAC is
// least-privilege, and the Deployment, Service, NetworkPolicies and overlays fit together.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { ALWAYS_EXEMPT, defaultConfig, parseConfig } from '../src/config.js'
import { RULES } from '../src/decision/registry.js'
import type { AdmissionRequest, KubeObject, NetworkPolicy, Operation } from '../src/k8s/types.js'
import { coverageOf, summarizePolicy } from '../src/policy/coverage.js'
import { NAMESPACES, NETWORK_POLICIES, POD_WORKLOADS, type ResourceRef } from '../src/policy/kinds.js'
import { MemoryView } from '../src/view/memory-view.js'
import { WEBHOOK_CONFIGURATIONS } from '../certs-scripts/generate.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const MANIFESTS = join(ROOT, 'manifests')
const GUARD_NS = 'netpol-guard'
const SKIPPED_NAMESPACES = [...ALWAYS_EXEMPT, GUARD_NS].sort()

type Obj = KubeObject & { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } }
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const noKubectl: string | false = kubectl.error ? `kubectl not found (${(kubectl.error as NodeJS.ErrnoException).code}): the manifests cannot be rendered` : false
if (noKubectl) t.comment(`SKIP: ${noKubectl}`)

function render(dir: string): Obj[] {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 32 << 20 })
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr}`)
  return parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean) as Obj[]
}

function find(objs: Obj[], kind: string, name?: string): Obj[] {
  return objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name))
}
function one(objs: Obj[], kind: string, name: string): Any {
  const found = find(objs, kind, name)
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`)
  return found[0]
}

/** kubernetes-models class for an apiVersion/kind, undefined for kinds it does not know (CRDs). */
async function modelFor(apiVersion: string, kind: string): Promise<(new (data: unknown) => { validate(): void }) | undefined> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion]
  const path = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`
  try {
    const mod = (await import(path)) as Record<string, unknown>
    return mod[kind] as Any
  } catch {
    return undefined
  }
}

const KNOWN_CRDS = new Set(['cert-manager.io/v1/Issuer', 'cert-manager.io/v1/Certificate'])

async function validateAll(t: Any, objs: Obj[]): Promise<void> {
  for (const o of objs) {
    const id = `${o.apiVersion}/${o.kind} ${o.metadata?.namespace ?? ''}/${o.metadata?.name}`
    const Model = await modelFor(String(o.apiVersion), String(o.kind))
    if (!Model) {
      t.ok(KNOWN_CRDS.has(`${o.apiVersion}/${o.kind}`), `${id}: no schema in kubernetes-models, and not an expected CRD kind`)
      continue
    }
    t.doesNotThrow(() => new Model(o).validate(), `${id} validates against the Kubernetes schema`)
  }
}

// Every overlay, plus the components in a throwaway overlay.
const OVERLAYS = ['base', 'overlays/dry-run', 'overlays/enforce']

/** A throwaway overlay: `base` (under manifests/) plus components (under manifests/, or absolute paths). */
function withComponents(base: string, components: string[]): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'netpol-guard-kustomize-'))
  // kustomize wants relative paths
  const rel = (p: string) => relative(dir, resolve(MANIFESTS, p))
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${rel(base)}\n` +
      `components:\n${components.map((c) => `  - ${rel(c)}\n`).join('')}`,
  )
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

t.test('every overlay renders and validates against the Kubernetes schemas', { skip: noKubectl }, async (t) => {
  for (const o of OVERLAYS) {
    await t.test(o, async (t) => {
      const objs = render(join(MANIFESTS, o))
      t.ok(objs.length >= 10, `${o}: ${objs.length} objects`)
      await validateAll(t, objs)
      const ids = objs.map((x) => `${x.kind}/${x.metadata.namespace ?? ''}/${x.metadata.name}`)
      t.same(ids.length, new Set(ids).size, 'no duplicate objects')
      for (const x of objs) {
        const clusterScoped = ['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'].includes(String(x.kind))
        if (!clusterScoped) t.equal(x.metadata.namespace, GUARD_NS, `${x.kind}/${x.metadata.name} is in ${GUARD_NS}`)
      }
    })
  }
  for (const [name, components] of [
    ['cert-manager component', ['components/cert-manager']],
    ['vap component', ['components/vap']],
    ['priority component', ['components/priority']],
    ['all components', ['components/cert-manager', 'components/vap', 'components/priority']],
  ] as const) {
    await t.test(name, async (t) => {
      const k = withComponents('overlays/enforce', [...components])
      t.teardown(k.cleanup)
      const objs = render(k.dir)
      await validateAll(t, objs)
    })
  }
})

// ---------------------------------------------------------------------------------------------
// Webhook rules ⇔ the code's rules

type Triple = string // "group/resource OPERATION path"

/** Rendered (group, resource, operation, path) of every webhook, with no wildcards allowed. */
function webhookTriples(t: Any, objs: Obj[]): Set<Triple> {
  const out = new Set<Triple>()
  for (const cfg of [...find(objs, 'ValidatingWebhookConfiguration'), ...find(objs, 'MutatingWebhookConfiguration')] as Any[]) {
    for (const wh of cfg.webhooks) {
      const path = wh.clientConfig.service.path
      t.equal(path, cfg.kind === 'MutatingWebhookConfiguration' ? '/mutate' : '/validate', `${wh.name}: path`)
      for (const rule of wh.rules) {
        t.notOk(rule.apiGroups.includes('*') || rule.resources.includes('*') || rule.operations.includes('*'), `${wh.name}: no wildcard groups/resources/operations`)
        t.notOk(rule.resources.some((r: string) => r.includes('/')), `${wh.name}: no subresources (the rules skip them)`)
        for (const g of rule.apiGroups) for (const r of rule.resources) for (const op of rule.operations) out.add(`${g}/${r} ${op} ${path}`)
      }
    }
  }
  return out
}

/**
 * What the code acts on: each of the rules is asked, for every resource it could know about and every
 * operation, with a request built to trigger it (an unprivileged user, an allow-all policy replacing a
 * deny-all, a guard label, a namespace with and without coverage). Where some rule answers, the
 * webhook must send the request; where none does, it must not.
 */
function codeTriples(clusterWide: readonly ResourceRef[]): Set<Triple> {
  const out = new Set<Triple>()
  const config = defaultConfig()
  config.clusterWideKinds = clusterWide.map((k) => ({ ...k }))
  const denyAll: NetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: 'team-a' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }
  const allowAll: NetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: 'team-a' }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] } }
  const covered = new MemoryView()
  covered.upsertNamespace({ metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a' } } })
  covered.upsertPolicy('team-a', denyAll)
  const uncovered = new MemoryView()
  uncovered.upsertNamespace({ metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a' } } })
  const everything = [...clusterWide, ...POD_WORKLOADS, NETWORK_POLICIES, NAMESPACES]
  const objectFor = (ref: ResourceRef, variant: 'new' | 'old'): KubeObject => {
    if (ref === NETWORK_POLICIES) return variant === 'new' ? allowAll : denyAll
    if (ref === NAMESPACES)
      return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: variant === 'new' ? { 'netpol-guard.io/exempt': 'true' } : {} } }
    return { apiVersion: `${ref.group ? ref.group + '/' : ''}v1`, kind: ref.kind, metadata: { name: 'x', namespace: 'team-a' }, spec: {} }
  }
  for (const ref of everything) {
    for (const op of ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as Operation[]) {
      const request: AdmissionRequest = {
        uid: 'probe',
        kind: { group: ref.group, version: 'v1', kind: ref.kind },
        resource: { group: ref.group, version: 'v1', resource: ref.resource },
        operation: op,
        namespace: 'team-a',
        name: ref === NAMESPACES ? 'team-a' : ref === NETWORK_POLICIES ? 'deny-all' : 'x',
        userInfo: { username: 'jane', groups: ['system:authenticated'] },
        ...(op === 'DELETE' ? {} : { object: objectFor(ref, 'new') }),
        ...(op === 'UPDATE' || op === 'DELETE' ? { oldObject: objectFor(ref, 'old') } : {}),
      } as AdmissionRequest
      for (const view of [covered, uncovered]) {
        const fired = RULES.some((rule) => rule.evaluate({ request, view, config, now: Date.now() }) !== undefined)
        if (fired) out.add(`${ref.group}/${ref.resource} ${op} /validate`)
      }
    }
  }
  // The mutation (contract): a Namespace CREATE is labelled and gets its deny-all.
  out.add(`${NAMESPACES.group}/${NAMESPACES.resource} CREATE /mutate`)
  return out
}

t.test('webhook rules and the code agree (both directions)', { skip: noKubectl }, async (t) => {
  const cfg = parseConfig(readFileSync(join(MANIFESTS, 'base', 'config.yaml'), 'utf8'))
  const expected = codeTriples(cfg.clusterWideKinds)
  // Sanity of the probe itself: every rule family was triggered.
  t.ok(expected.has('crd.projectcalico.org/globalnetworkpolicies CREATE /validate'), 'probe reaches no-global-policy')
  t.ok(expected.has('apps/deployments CREATE /validate'), 'probe reaches require-deny-all')
  t.ok(expected.has('networking.k8s.io/networkpolicies DELETE /validate'), 'probe reaches protect-deny-all')
  t.ok(expected.has('/namespaces UPDATE /validate'), 'probe reaches protect-guard-labels')
  for (const o of OVERLAYS) {
    const rendered = webhookTriples(t, render(join(MANIFESTS, o)))
    const missing = [...expected].filter((x) => !rendered.has(x)).sort()
    const extra = [...rendered].filter((x) => !expected.has(x)).sort()
    t.same(missing, [], `${o}: every (resource, operation) a rule acts on is sent to the webhook`)
    t.same(extra, [], `${o}: the webhooks send nothing that no rule acts on`)
  }
})

t.test('the probe of the code notices a change of the kinds table', async (t) => {
  // If kinds.ts gained a resource the manifests lack, the comparison above fails: show it does.
  const more = codeTriples([...defaultConfig().clusterWideKinds, { group: 'example.io', resource: 'globalthings', kind: 'GlobalThing' }])
  t.ok(more.has('example.io/globalthings CREATE /validate'))
  t.notOk(more.has('example.io/globalthings DELETE /validate'), 'DELETE of a global policy is always allowed')
})

// ---------------------------------------------------------------------------------------------
// Webhook settings

t.test('webhook settings', { skip: noKubectl }, async (t) => {
  const enforce = render(join(MANIFESTS, 'overlays/enforce'))
  const dry = render(join(MANIFESTS, 'overlays/dry-run'))
  const vwc = one(enforce, 'ValidatingWebhookConfiguration', 'netpol-guard')
  const mwc = one(enforce, 'MutatingWebhookConfiguration', 'netpol-guard')
  t.same(vwc.webhooks.map((w: Any) => w.name), WEBHOOK_CONFIGURATIONS.validating.webhooks, 'validating webhook names = the caBundle patch of npm run certs')
  t.same(mwc.webhooks.map((w: Any) => w.name), WEBHOOK_CONFIGURATIONS.mutating.webhooks, 'mutating webhook names = the caBundle patch of npm run certs')
  const svc = one(enforce, 'Service', 'netpol-guard')
  for (const cfg of [vwc, mwc]) {
    for (const wh of cfg.webhooks) {
      const n = wh.name
      t.same(wh.admissionReviewVersions, ['v1', 'v1beta1'], `${n}: admissionReviewVersions`)
      t.equal(wh.sideEffects, cfg === mwc ? 'NoneOnDryRun' : 'None', `${n}: sideEffects`)
      t.ok(wh.timeoutSeconds >= 1 && wh.timeoutSeconds <= 10, `${n}: timeoutSeconds ${wh.timeoutSeconds} ≤ 10`)
      t.equal(wh.matchPolicy, 'Equivalent', `${n}: matchPolicy`)
      t.notOk(wh.objectSelector, `${n}: no objectSelector (object labels are the requester's)`)
      t.same(wh.clientConfig.service, { name: svc.metadata.name, namespace: GUARD_NS, path: wh.clientConfig.service.path, port: 443 }, `${n}: the Service, port 443`)
      const clusterWide = wh.rules.every((r: Any) => !['', 'networking.k8s.io', 'apps', 'batch'].includes(r.apiGroups[0]))
      const isNamespaces = wh.rules.every((r: Any) => r.resources.every((x: string) => x === 'namespaces'))
      const sel = wh.namespaceSelector
      if (clusterWide) {
        t.notOk(sel && Object.keys(sel).length, `${n}: cluster-scoped resources: no namespaceSelector (it would not apply)`)
        continue
      }
      const exprs: Any[] = sel?.matchExpressions ?? []
      const byName = exprs.find((e) => e.key === 'kubernetes.io/metadata.name')
      t.equal(byName?.operator, 'NotIn', `${n}: skips namespaces by name`)
      t.same([...(byName?.values ?? [])].sort(), SKIPPED_NAMESPACES, `${n}: skips ${SKIPPED_NAMESPACES.join(', ')}`)
      const userLabels = exprs.filter((e) => e.key !== 'kubernetes.io/metadata.name')
      if (isNamespaces) t.same(userLabels, [], `${n}: a Namespace selector matches the object itself: only the name, no user-settable label`)
      else t.same(userLabels, [{ key: 'netpol-guard.io/exempt', operator: 'NotIn', values: ['true'] }], `${n}: skips exempt-labelled namespaces`)
      t.notOk(sel.matchLabels, `${n}: no matchLabels`)
    }
  }
  const fp = (objs: Obj[]) =>
    Object.fromEntries(
      [...find(objs, 'ValidatingWebhookConfiguration'), ...find(objs, 'MutatingWebhookConfiguration')].flatMap((c: Any) => c.webhooks.map((w: Any) => [w.name, w.failurePolicy])),
    )
  t.same(
    fp(enforce),
    {
      'global-policies.validate.netpol-guard.io': 'Fail',
      'networkpolicies.validate.netpol-guard.io': 'Fail',
      'namespaces.validate.netpol-guard.io': 'Fail',
      'workloads.validate.netpol-guard.io': 'Ignore',
      'namespaces.mutate.netpol-guard.io': 'Ignore',
    },
    'enforce: failurePolicy per family',
  )
  t.ok(Object.values(fp(dry)).every((v) => v === 'Ignore'), 'dry-run: every webhook Ignore')
  t.same(Object.keys(fp(dry)).sort(), Object.keys(fp(enforce)).sort(), 'dry-run has the same webhooks')
  const args = (objs: Obj[]) => one(objs, 'Deployment', 'netpol-guard').spec.template.spec.containers[0].args as string[]
  t.ok(args(dry).includes('--mode=dry-run') && !args(dry).includes('--mode=enforce'), 'dry-run: --mode=dry-run')
  t.ok(args(enforce).includes('--mode=enforce') && !args(enforce).includes('--mode=dry-run'), 'enforce: --mode=enforce')
  // No caBundle in the base: it comes from npm run certs or cert-manager.
  for (const cfg of [vwc, mwc]) for (const wh of cfg.webhooks) t.notOk(wh.clientConfig.caBundle, `${wh.name}: no caBundle in the overlay itself`)
})

// ---------------------------------------------------------------------------------------------
// RBAC

t.test('RBAC: least privilege', { skip: noKubectl }, async (t) => {
  const objs = render(join(MANIFESTS, 'overlays/enforce'))
  const roles = [...find(objs, 'ClusterRole'), ...find(objs, 'Role')] as Any[]
  t.equal(roles.length, 2, 'one ClusterRole, one Role')
  const grants = new Map<string, Set<string>>()
  for (const role of roles) {
    t.notOk(role.aggregationRule, `${role.metadata.name}: no aggregation`)
    for (const rule of role.rules) {
      for (const f of ['apiGroups', 'resources', 'verbs', 'resourceNames']) t.notOk((rule[f] ?? []).includes('*'), `${role.metadata.name}: no wildcard in ${f}`)
      t.notOk(rule.nonResourceURLs, `${role.metadata.name}: no nonResourceURLs`)
      t.notOk(rule.resources.includes('secrets'), `${role.metadata.name}: no Secrets`)
      for (const g of rule.apiGroups) for (const r of rule.resources) {
        const key = `${role.kind}:${g}/${r}${rule.resourceNames ? '#' + rule.resourceNames.join(',') : ''}`
        const s = grants.get(key) ?? new Set<string>()
        for (const v of rule.verbs) s.add(v)
        grants.set(key, s)
      }
    }
  }
  const asObj = Object.fromEntries([...grants].map(([k, v]) => [k, [...v].sort()]))
  t.same(
    asObj,
    {
      'ClusterRole:/namespaces': ['get', 'list', 'watch'],
      'ClusterRole:networking.k8s.io/networkpolicies': ['create', 'get', 'list', 'watch'],
      'ClusterRole:/events': ['create'],
      'Role:coordination.k8s.io/leases': ['create'],
      'Role:coordination.k8s.io/leases#netpol-guard-leader': ['get', 'update'],
    },
    'exactly the grants the live mode needs',
  )
  const role = find(objs, 'Role')[0] as Any
  t.equal(role.metadata.namespace, GUARD_NS, 'the Lease Role is in the guard namespace')
  for (const b of [...find(objs, 'ClusterRoleBinding'), ...find(objs, 'RoleBinding')] as Any[]) {
    t.same(b.subjects, [{ kind: 'ServiceAccount', name: 'netpol-guard', namespace: GUARD_NS }], `${b.kind} ${b.metadata.name}: the guard's ServiceAccount only`)
    t.ok(roles.some((r) => r.kind === b.roleRef.kind && r.metadata.name === b.roleRef.name), `${b.kind} ${b.metadata.name}: refers to our role`)
  }
  const dep = one(objs, 'Deployment', 'netpol-guard')
  t.equal(dep.spec.template.spec.serviceAccountName, 'netpol-guard')
  t.ok(find(objs, 'ServiceAccount', 'netpol-guard').length === 1, 'the ServiceAccount exists')
  // The guard's own ServiceAccount is privileged for guard labels by default (config).
  t.equal(parseConfig(readFileSync(join(MANIFESTS, 'base', 'config.yaml'), 'utf8')).serviceAccount, 'netpol-guard')
})

// ---------------------------------------------------------------------------------------------
// Deployment, Service, PDB, ConfigMap

t.test('Deployment, Service, PDB and ConfigMap fit together', { skip: noKubectl }, async (t) => {
  const objs = render(join(MANIFESTS, 'overlays/enforce'))
  const dep = one(objs, 'Deployment', 'netpol-guard')
  const pod = dep.spec.template.spec
  const c = pod.containers[0]
  t.equal(dep.spec.replicas, 2, '2 replicas')
  t.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0, 'rollout never goes below 2 ready pods')
  const podLabels = dep.spec.template.metadata.labels
  const matches = (sel: Record<string, string>) => Object.entries(sel).every(([k, v]) => podLabels[k] === v)
  t.ok(matches(dep.spec.selector.matchLabels), 'Deployment selector matches its pods')
  t.ok(pod.topologySpreadConstraints.some((s: Any) => s.topologyKey === 'kubernetes.io/hostname' && matches(s.labelSelector.matchLabels)), 'spread over nodes')
  t.ok(pod.topologySpreadConstraints.some((s: Any) => s.topologyKey === 'topology.kubernetes.io/zone'), 'spread over zones')
  const pdb = one(objs, 'PodDisruptionBudget', 'netpol-guard')
  t.ok(matches(pdb.spec.selector.matchLabels), 'PDB selects the pods')
  t.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable === 1, 'PDB keeps one pod')
  const svc = one(objs, 'Service', 'netpol-guard')
  t.ok(matches(svc.spec.selector), 'Service selects the pods')
  t.same(svc.spec.ports.map((p: Any) => [p.port, p.targetPort]), [[443, 'https']], 'Service 443 → https')
  const port = c.ports.find((p: Any) => p.name === 'https')
  t.equal(port.containerPort, 8443, 'https is 8443')
  t.ok(c.args.includes(`--port=${port.containerPort}`), '--port matches the container port')
  // Image and tag.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
  t.equal(c.image, `ghcr.io/netpol-guard/netpol-guard:${pkg.version}`, 'image tag = package version')
  // Probes over HTTPS.
  t.match(c.readinessProbe.httpGet, { path: '/readyz', port: 'https', scheme: 'HTTPS' }, 'readiness /readyz over HTTPS')
  t.match(c.livenessProbe.httpGet, { path: '/healthz', port: 'https', scheme: 'HTTPS' }, 'liveness /healthz over HTTPS')
  // Resources.
  for (const k of ['requests', 'limits']) for (const r of ['cpu', 'memory']) t.ok(c.resources[k]?.[r], `${k}.${r}`)
  // Security.
  t.equal(pod.securityContext.runAsNonRoot, true, 'pod runAsNonRoot')
  t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', 'pod seccomp RuntimeDefault')
  t.ok(pod.securityContext.runAsUser > 0, 'numeric non-root user')
  t.match(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } }, 'container hardening')
  t.notOk(c.securityContext.capabilities.add, 'no added capabilities')
  t.notOk(pod.hostNetwork || pod.hostPID || pod.hostIPC, 'no host namespaces')
  // TLS Secret mounted as a directory (so renewals reach the pod), files passed to --tls-cert/--tls-key.
  const tlsVol = pod.volumes.find((v: Any) => v.secret?.secretName === 'netpol-guard-tls')
  t.ok(tlsVol, 'the Secret netpol-guard-tls is a volume')
  const tlsMount = c.volumeMounts.find((m: Any) => m.name === tlsVol.name)
  t.equal(tlsMount.mountPath, '/etc/netpol-guard/tls', 'mounted at /etc/netpol-guard/tls')
  t.notOk(tlsMount.subPath, 'no subPath (a subPath mount never sees a renewed Secret)')
  t.ok(c.args.includes('--tls-cert=/etc/netpol-guard/tls/tls.crt') && c.args.includes('--tls-key=/etc/netpol-guard/tls/tls.key'), 'TLS flags point into the mount')
  // Config.
  const cfgVol = pod.volumes.find((v: Any) => v.configMap)
  const cm = one(objs, 'ConfigMap', cfgVol.configMap.name)
  t.match(cm.metadata.name, /^netpol-guard-config-/, 'generated ConfigMap (hash suffix rolls the pods on change)')
  const cfgMount = c.volumeMounts.find((m: Any) => m.name === cfgVol.name)
  const cfgArg = c.args.find((a: string) => a.startsWith('--config='))
  t.equal(cfgArg, `--config=${cfgMount.mountPath}/config.yaml`, '--config points to config.yaml in the mount')
  t.doesNotThrow(() => parseConfig(cm.data['config.yaml']), 'config.yaml is a valid guard config')
  // Namespace from the downward API.
  t.ok(c.args.includes('--namespace=$(POD_NAMESPACE)'), '--namespace from POD_NAMESPACE')
  t.same(c.env.find((e: Any) => e.name === 'POD_NAMESPACE').valueFrom, { fieldRef: { fieldPath: 'metadata.namespace' } }, 'POD_NAMESPACE via downward API')
  // Every writable path is a volume (read-only root).
  t.ok(c.volumeMounts.every((m: Any) => m.readOnly || pod.volumes.find((v: Any) => v.name === m.name).emptyDir), 'only emptyDir mounts are writable')
})

// ---------------------------------------------------------------------------------------------
// NetworkPolicies of the guard's namespace

t.test("the guard's namespace follows its own rule", { skip: noKubectl }, async (t) => {
  const objs = render(join(MANIFESTS, 'overlays/enforce'))
  const nps = find(objs, 'NetworkPolicy') as Any[]
  t.ok(nps.every((p) => p.metadata.namespace === GUARD_NS), 'all in the guard namespace')
  const cov = coverageOf(nps.map((p) => summarizePolicy(p)))
  t.same(cov, { ingress: true, egress: true }, 'deny-all coverage in both directions')
  for (const p of nps) {
    const s = summarizePolicy(p)
    t.notOk(s.allowAllIngress || s.allowAllEgress, `${p.metadata.name}: no allow-all`)
  }
  const dep = one(objs, 'Deployment', 'netpol-guard')
  const podLabels = dep.spec.template.metadata.labels
  const allows = nps.filter((p) => (p.spec.ingress?.length ?? 0) + (p.spec.egress?.length ?? 0) > 0)
  for (const p of allows) {
    t.ok(Object.entries(p.spec.podSelector.matchLabels ?? {}).every(([k, v]) => podLabels[k] === v) && Object.keys(p.spec.podSelector.matchLabels ?? {}).length > 0, `${p.metadata.name}: selects the guard's pods only`)
  }
  const ports = (rules: Any[]) => rules.flatMap((r) => (r.ports ?? []).map((x: Any) => `${x.protocol ?? 'TCP'}/${x.port}`)).sort()
  const ingress = allows.flatMap((p) => p.spec.ingress ?? [])
  const egress = allows.flatMap((p) => p.spec.egress ?? [])
  t.same(ports(ingress), ['TCP/8443'], 'ingress: 8443 only (API server, probes, metrics)')
  t.ok(ingress.every((r) => r.ports?.length), 'every ingress rule has ports')
  t.same(ports(egress), ['TCP/443', 'TCP/53', 'TCP/6443', 'UDP/53'], 'egress: API server 443/6443 and DNS 53')
  t.ok(egress.every((r) => r.ports?.length), 'every egress rule has ports')
  const dns = egress.find((r) => (r.ports ?? []).some((x: Any) => x.port === 53))
  t.same(dns.to, [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }], 'DNS only to kube-system')
})

// ---------------------------------------------------------------------------------------------
// Components

t.test('cert-manager component', { skip: noKubectl }, async (t) => {
  const k = withComponents('overlays/enforce', ['components/cert-manager'])
  t.teardown(k.cleanup)
  const objs = render(k.dir)
  const certs = find(objs, 'Certificate') as Any[]
  const serving = certs.find((c) => c.spec.secretName === 'netpol-guard-tls')
  t.ok(serving, 'a Certificate writes the Secret the Deployment mounts')
  t.same(serving.spec.dnsNames, ['netpol-guard.netpol-guard.svc', 'netpol-guard.netpol-guard.svc.cluster.local'], 'for the Service')
  t.equal(serving.spec.privateKey.rotationPolicy, 'Always', 'new key on renewal')
  const issuer = one(objs, 'Issuer', serving.spec.issuerRef.name)
  t.ok(issuer.spec.ca, 'issued by a CA Issuer (the caBundle stays the same across renewals)')
  const ca = certs.find((c) => c.spec.secretName === issuer.spec.ca.secretName)
  t.equal(ca.spec.isCA, true, 'the CA Certificate')
  for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
    t.equal(one(objs, kind, 'netpol-guard').metadata.annotations?.['cert-manager.io/inject-ca-from'], 'netpol-guard/netpol-guard-tls', `${kind}: CA injection`)
  }
  t.ok(certs.every((c) => c.metadata.namespace === GUARD_NS), 'in the guard namespace')
})

t.test('vap component renders the policy and binding', { skip: noKubectl }, async (t) => {
  const k = withComponents('overlays/enforce', ['components/vap'])
  t.teardown(k.cleanup)
  const objs = render(k.dir)
  t.equal(find(objs, 'ValidatingAdmissionPolicy').length, 1)
  t.equal(find(objs, 'ValidatingAdmissionPolicyBinding').length, 1)
})

t.test('priority component: the guard runs at a PriorityClass of its own, the highest a user-defined one may have', { skip: noKubectl }, async (t) => {
  const k = withComponents('overlays/enforce', ['components/priority'])
  t.teardown(k.cleanup)
  const objs = render(k.dir)
  const deployment = one(objs, 'Deployment', 'netpol-guard') as Any
  const className = deployment.spec.template.spec.priorityClassName
  t.equal(className, 'netpol-guard-critical', 'the Deployment names the class')
  const pc = one(objs, 'PriorityClass', className) as Any
  t.equal(pc.value, 1_000_000_000, 'the largest value the API server accepts for a class not named system-*')
  t.equal(pc.globalDefault, false, 'no other pod gets it by default')
  t.notOk(pc.metadata.namespace, 'cluster-scoped')
  t.same(find(render(join(MANIFESTS, 'overlays/enforce')), 'PriorityClass'), [], 'not in the overlays without the component')
})

// ---------------------------------------------------------------------------------------------
// No unknown fields: kubernetes-models' validate() accepts unknown properties, so every rendered object is
// also type-checked as a fresh object literal against the kubernetes-models TypeScript interfaces
// (excess property check), which catches a misspelt or misplaced field.

t.test('no unknown fields (TypeScript excess property check)', { skip: noKubectl }, async (t) => {
  const k = withComponents('overlays/enforce', ['components/cert-manager', 'components/vap', 'components/priority'])
  t.teardown(k.cleanup)
  const objs = [...render(k.dir), ...render(join(MANIFESTS, 'overlays/dry-run'))]
  // Under node_modules so that the kubernetes-models types resolve.
  const dir = mkdtempSync(join(ROOT, 'node_modules', '.netpol-guard-strict-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let src = ''
  let n = 0
  for (const o of objs) {
    const [group, version] = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/') : ['', String(o.apiVersion)]
    if (group === 'cert-manager.io') continue
    const mod = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`
    src += `import type { I${o.kind} as T${n} } from '${mod}'\nexport const o${n}: T${n} = ${JSON.stringify(o)}\n`
    n++
  }
  writeFileSync(join(dir, 'check.ts'), src)
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', join(dir, 'check.ts')], { encoding: 'utf8' })
  t.equal(r.status, 0, `${n} objects type-check against kubernetes-models${r.status ? ':\n' + r.stdout + r.stderr : ''}`)
})

// ---------------------------------------------------------------------------------------------
// The image (no Docker engine here: the Dockerfile's shape is checked, and that it fits the Deployment)

t.test('Dockerfile: multi-stage, production dependencies only, non-root, the serve entrypoint', async (t) => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const lines = text.split('\n').map((l) => l.trim())
  const froms = lines.filter((l) => /^FROM /i.test(l))
  t.equal(froms.length, 2, 'two stages')
  t.ok(lines.some((l) => /^RUN npm ci( |$)/.test(l) && !l.includes('--omit=dev')), 'build stage: npm ci with dev dependencies')
  t.ok(lines.some((l) => /^RUN npx tsc -p tsconfig\.json\b/.test(l)), 'build stage: compiles the application (tsconfig.json; test/image.test.ts runs it on the build context)')
  const runtime = text.slice(text.lastIndexOf('\nFROM '))
  t.match(runtime, /npm ci --omit=dev/, 'runtime: production dependencies only')
  t.match(runtime, /COPY --from=build \/app\/dist \.\/dist/, 'runtime: the built dist/ only')
  const user = /^USER (\S+)/m.exec(runtime)?.[1]
  t.ok(user && /^[1-9]\d*(:\d+)?$/.test(user), `runtime: numeric non-root USER (${user})`)
  t.ok(lines.includes('ENTRYPOINT ["node","dist/cli.js","serve"]'), 'ENTRYPOINT')
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
  for (const p of ['node_modules', 'dist', '.git']) t.ok(ignore.includes(p), `.dockerignore: ${p}`)
  if (!noKubectl) {
    const dep = one(render(join(MANIFESTS, 'overlays/enforce')), 'Deployment', 'netpol-guard')
    const sc = dep.spec.template.spec.securityContext
    t.equal(`${sc.runAsUser}:${sc.runAsGroup}`, user, 'the Deployment runs as the image USER')
    t.notOk(dep.spec.template.spec.containers[0].command, 'the Deployment keeps the image ENTRYPOINT (args only)')
  }
})
