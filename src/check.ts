// `netpol-guard check`: the admission rules applied offline to manifests, in order, against a
// simulated cluster view that each admitted object updates (a Namespace in the files is injected).
import type { GuardConfig } from './config.js'
import { decideMutation } from './decision/mutate.js'
import { decideValidation } from './decision/validate.js'
import { labelsOf, metaString, LABEL_DENY_ALL, LABEL_DENY_ALL_INJECTED, type AdmissionRequest, type KubeObject } from './k8s/types.js'
import { denyAllPolicy } from './policy/coverage.js'
import { NAMESPACES, NETWORK_POLICIES, POD_WORKLOADS, type ResourceRef } from './policy/kinds.js'
import { MemoryView } from './view/memory-view.js'
import { oneLine } from './rules/rule.js'

export type Verdict = 'ALLOW' | 'WARN' | 'DENY'

export interface CheckResult {
  verdict: Verdict
  source: string
  kind: string
  namespace?: string
  name: string
  operation: 'CREATE' | 'UPDATE'
  findings: { rule: string; message: string }[]
  /** Set when the guard would inject the deny-all policy into this Namespace. */
  injected?: boolean
}

const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding',
  'CustomResourceDefinition', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'PriorityClass', 'IngressClass',
  'RuntimeClass', 'APIService', 'CSIDriver', 'VolumeAttachment',
])

function groupVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf('/')
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) }
}

function resourceFor(group: string, kind: string, cfg: GuardConfig): { resource: string; clusterScoped: boolean } {
  const known: ResourceRef[] = [...POD_WORKLOADS, NETWORK_POLICIES, NAMESPACES]
  const hit = known.find((r) => r.group === group && r.kind === kind)
  if (hit) return { resource: hit.resource, clusterScoped: hit === NAMESPACES }
  const global = cfg.clusterWideKinds.find((r) => r.group === group && r.kind === kind)
  if (global) return { resource: global.resource, clusterScoped: true }
  const lower = kind.toLowerCase()
  const plural = lower.endsWith('s') ? lower + 'es' : lower.endsWith('y') ? lower.slice(0, -1) + 'ies' : lower + 's'
  return { resource: plural, clusterScoped: CLUSTER_SCOPED_KINDS.has(kind) }
}

export interface CheckOptions {
  config: GuardConfig
  view?: MemoryView
  user?: { username: string; groups: string[] }
  now?: number
}

/** Evaluates the objects in order; the view is updated with every object the cluster would admit. */
export function checkObjects(objects: { source: string; object: KubeObject }[], opts: CheckOptions): CheckResult[] {
  const view = opts.view ?? new MemoryView()
  const cfg = opts.config
  const now = opts.now ?? Date.now()
  const user = opts.user ?? { username: 'netpol-guard-check', groups: ['system:authenticated'] }
  const results: CheckResult[] = []
  let seq = 0
  for (const { source, object } of objects) {
    const { group, version } = groupVersion(String(object.apiVersion))
    const kind = String(object.kind)
    const { resource, clusterScoped } = resourceFor(group, kind, cfg)
    const gen = metaString(object, 'generateName')
    const name = metaString(object, 'name') ?? ''
    const namespace = clusterScoped ? undefined : (metaString(object, 'namespace') ?? 'default')
    const isNs = kind === 'Namespace' && group === ''
    const isNp = kind === 'NetworkPolicy' && group === NETWORK_POLICIES.group
    const exists = isNs ? !!view.namespace(name) : isNp && namespace ? view.policies(namespace).some((p) => p.name === name) : false
    const operation = exists ? 'UPDATE' : 'CREATE'
    let obj: KubeObject = isNs || clusterScoped ? object : { ...object, metadata: { ...object.metadata, namespace } }
    const request: AdmissionRequest = {
      uid: `check-${++seq}`,
      kind: { group, version, kind },
      resource: { group, version, resource },
      operation,
      userInfo: user,
      object: obj,
      // An UPDATE of a namespace the view holds: its current labels are the old ones.
      oldObject: isNs && exists ? { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...view.namespace(name)!.labels } } } : null,
      ...(isNs ? { namespace: name } : namespace ? { namespace } : {}),
      ...(name ? { name } : {}),
    }
    // As in the apiserver: the mutating webhook first, then validation of the mutated object.
    let injected = false
    if (isNs && operation === 'CREATE') {
      const m = decideMutation(request, view, cfg)
      if (m.patch) {
        obj = { ...obj, metadata: { ...obj.metadata, labels: { ...labelsOf(obj), [LABEL_DENY_ALL]: LABEL_DENY_ALL_INJECTED } } }
        request.object = obj
        injected = m.inject !== undefined
      }
    }
    const d = decideValidation({ request, view, config: cfg, now })
    const verdict: Verdict = d.findings.length === 0 ? 'ALLOW' : d.mode === 'enforce' ? 'DENY' : 'WARN'
    results.push({
      verdict,
      source,
      kind,
      ...(namespace ? { namespace } : {}),
      name: name || (gen ? `${gen}*` : '(unnamed)'),
      operation,
      findings: d.findings.map((f) => ({ rule: f.rule, message: f.message })),
      ...(injected && verdict !== 'DENY' ? { injected: true } : {}),
    })
    if (verdict === 'DENY') continue
    // What the cluster would hold after admitting it.
    if (isNs) {
      view.upsertNamespace({ ...obj, metadata: { ...obj.metadata, creationTimestamp: new Date(now).toISOString() } })
      if (injected) view.upsertPolicy(name, denyAllPolicy(name, cfg.policyName))
    } else if (isNp && namespace && name) {
      view.upsertPolicy(namespace, obj)
    }
  }
  return results
}

/** One line per object, whatever the manifest's names hold (a newline in a name would start a fake row). */
export function formatText(r: CheckResult): string {
  const where = r.namespace ? `${r.namespace}/${r.name}` : r.name
  const head = oneLine(`${r.verdict} ${r.kind} ${where}`)
  const first = r.findings[0]
  if (!first) return r.injected ? `${head} (deny-all NetworkPolicy injected)` : head
  const more = r.findings.length > 1 ? ` (also: ${r.findings.slice(1).map((f) => `[${f.rule}]`).join(' ')})` : ''
  return `${head} ${first.message}${more}`
}

export function summarize(results: CheckResult[]): { allowed: number; warned: number; denied: number } {
  return {
    allowed: results.filter((r) => r.verdict === 'ALLOW').length,
    warned: results.filter((r) => r.verdict === 'WARN').length,
    denied: results.filter((r) => r.verdict === 'DENY').length,
  }
}
