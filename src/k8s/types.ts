// The slices of Kubernetes objects that netpol-guard reads. Every field is optional because
// objects arrive from outside (apiserver, files, fuzzers) and must be read defensively.

export interface ObjectMeta {
  name?: string
  generateName?: string
  namespace?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  creationTimestamp?: string
  deletionTimestamp?: string
  resourceVersion?: string
  uid?: string
}

export interface KubeObject {
  apiVersion?: string
  kind?: string
  metadata?: ObjectMeta
  [key: string]: unknown
}

export interface LabelSelectorRequirement {
  key?: string
  operator?: string
  values?: string[]
}

export interface LabelSelector {
  matchLabels?: Record<string, string>
  matchExpressions?: LabelSelectorRequirement[]
}

export interface NetworkPolicyPort {
  protocol?: string
  port?: number | string
  endPort?: number
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector
  namespaceSelector?: LabelSelector
  ipBlock?: { cidr?: string; except?: string[] }
}

export interface NetworkPolicyIngressRule {
  from?: NetworkPolicyPeer[]
  ports?: NetworkPolicyPort[]
}

export interface NetworkPolicyEgressRule {
  to?: NetworkPolicyPeer[]
  ports?: NetworkPolicyPort[]
}

export interface NetworkPolicySpec {
  podSelector?: LabelSelector | null
  policyTypes?: string[]
  ingress?: NetworkPolicyIngressRule[]
  egress?: NetworkPolicyEgressRule[]
}

export interface NetworkPolicy extends KubeObject {
  spec?: NetworkPolicySpec
}

export interface Namespace extends KubeObject {
  status?: { phase?: string }
}

export interface GroupVersionKind {
  group: string
  version: string
  kind: string
}

export interface GroupVersionResource {
  group: string
  version: string
  resource: string
}

export interface UserInfo {
  username?: string
  uid?: string
  groups?: string[]
  extra?: Record<string, string[]>
}

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'

/** admission.k8s.io AdmissionRequest (identical in v1 and v1beta1 for the fields we use). */
export interface AdmissionRequest {
  uid: string
  kind: GroupVersionKind
  resource: GroupVersionResource
  subResource?: string
  requestKind?: GroupVersionKind
  requestResource?: GroupVersionResource
  requestSubResource?: string
  name?: string
  namespace?: string
  operation: Operation
  userInfo: UserInfo
  object?: KubeObject | null
  oldObject?: KubeObject | null
  dryRun?: boolean
  options?: unknown
}

export const GUARD_LABEL_PREFIX = 'netpol-guard.io/'
export const LABEL_DENY_ALL = 'netpol-guard.io/deny-all'
export const LABEL_DENY_ALL_INJECTED = 'injected'
export const LABEL_EXEMPT = 'netpol-guard.io/exempt'
export const LABEL_MODE = 'netpol-guard.io/mode'
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by'
export const MANAGED_BY_GUARD = 'netpol-guard'

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Labels of an object as a string map; anything malformed reads as no labels. */
export function labelsOf(obj: unknown): Record<string, string> {
  if (!isRecord(obj) || !isRecord(obj.metadata) || !isRecord(obj.metadata.labels)) return {}
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(obj.metadata.labels)) if (typeof v === 'string') out[k] = v
  return out
}

/**
 * The guard's own labels (netpol-guard.io/...) of an object, the only ones its decisions read. One pass over the
 * keys and no copy of the rest: a Namespace may carry hundreds of thousands of labels in a 6 MiB review, and
 * copying them all, for each of the decisions that read them, took seconds of the event loop.
 */
export function guardLabelsOf(obj: unknown): Record<string, string> {
  return guardLabelsIn(isRecord(obj) && isRecord(obj.metadata) ? obj.metadata.labels : undefined)
}

/** The guard's own labels among `labels` (an object's metadata.labels; anything malformed reads as none). */
export function guardLabelsIn(labels: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (!isRecord(labels)) return out
  for (const k in labels) {
    if (!k.startsWith(GUARD_LABEL_PREFIX) || !Object.hasOwn(labels, k)) continue
    const v = labels[k]
    if (typeof v === 'string') out[k] = v
  }
  return out
}

export function metaString(obj: unknown, field: 'name' | 'generateName' | 'namespace' | 'creationTimestamp' | 'deletionTimestamp'): string | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined
  const v = obj.metadata[field]
  return typeof v === 'string' && v !== '' ? v : undefined
}
