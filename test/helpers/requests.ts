// Builders for AdmissionRequests, cluster views and rule contexts, shared by the rule tests.
// The shapes follow the requests a kube-apiserver v1.32 really sends (see ../shared/fixtures).
import { existsSync, readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defaultConfig, type GuardConfig } from '../../src/config.js'
import type {
  AdmissionRequest,
  KubeObject,
  Namespace,
  NetworkPolicy,
  NetworkPolicySpec,
  Operation,
  UserInfo,
} from '../../src/k8s/types.js'
import { NAMESPACES, NETWORK_POLICIES, type ResourceRef } from '../../src/policy/kinds.js'
import type { Finding, RuleContext } from '../../src/rules/rule.js'
import { MemoryView } from '../../src/view/memory-view.js'

// ---------------------------------------------------------------------------------------------
// Recorded apiserver requests

const here = dirname(fileURLToPath(import.meta.url))
/** The repository root (test/helpers/../..). */
export const REPO_ROOT = resolve(here, '..', '..')
/** ../shared/fixtures/apiserver-v1.32 relative to the repository root. */
export const FIXTURES_DIR = process.env.NETPOL_GUARD_FIXTURES ?? resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'apiserver-v1.32')
export const fixturesAvailable = existsSync(resolve(FIXTURES_DIR, 'INDEX.md'))
/** For `t.test(name, { skip: noFixtures }, ...)`. */
export const noFixtures: string | false = fixturesAvailable ? false : `recorded requests not found in ${FIXTURES_DIR}`

const FIXTURE_FILES: Record<string, string> = {
  '002': '002-namespace-create.json',
  '003': '003-namespace-update.json',
  '004': '004-networkpolicy-create.json',
  '005': '005-networkpolicy-delete.json',
  '006': '006-globalnetworkpolicy-create.json',
  '007': '007-globalnetworkpolicy-create.json',
  '008': '008-globalnetworkpolicy-create.json',
  '009': '009-ciliumclusterwidenetworkpolicy-create.json',
  '010': '010-ciliumclusterwidenetworkpolicy-delete.json',
  '011': '011-pod-create.json',
  '012': '012-networkpolicy-create.json',
  '013': '013-networkpolicy-update.json',
  '015': '015-namespace-create.json',
  '037': '037-globalnetworkpolicy-delete.json',
  '089': '089-networkpolicy-update.json',
}

/** The AdmissionRequest of a recorded review, by number ('011') or file name; a fresh copy each call. */
export function fixture(id: string): AdmissionRequest {
  const file = FIXTURE_FILES[id] ?? id
  const review = JSON.parse(readFileSync(resolve(FIXTURES_DIR, file), 'utf8')) as { request?: AdmissionRequest }
  if (!review.request) throw new Error(`${file}: no request`)
  return review.request
}

// ---------------------------------------------------------------------------------------------
// Users

export const DEVELOPER: UserInfo = { username: 'jane', uid: 'jane-uid', groups: ['developers', 'system:authenticated'] }
export const ADMIN: UserInfo = { username: 'admin', uid: 'admin-uid', groups: ['system:masters', 'system:authenticated'] }
export const NAMESPACE_CONTROLLER: UserInfo = {
  username: 'system:serviceaccount:kube-system:namespace-controller',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
}

export function serviceAccount(namespace: string, name: string): UserInfo {
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  }
}

// ---------------------------------------------------------------------------------------------
// Objects

let uidCounter = 0
const nextUid = (): string => `00000000-0000-4000-8000-${String(++uidCounter).padStart(12, '0')}`

export function networkPolicy(
  namespace: string,
  name: string,
  spec: NetworkPolicySpec | Record<string, unknown>,
  labels?: Record<string, string>,
): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: spec as NetworkPolicySpec,
  }
}

/** The canonical deny-all: every pod, both directions, no rules. */
export function denyAll(namespace: string, name = 'deny-all', labels?: Record<string, string>): NetworkPolicy {
  return networkPolicy(namespace, name, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, labels)
}
export function denyIngress(namespace: string, name = 'deny-ingress'): NetworkPolicy {
  return networkPolicy(namespace, name, { podSelector: {}, policyTypes: ['Ingress'] })
}
export function denyEgress(namespace: string, name = 'deny-egress'): NetworkPolicy {
  return networkPolicy(namespace, name, { podSelector: {}, policyTypes: ['Egress'] })
}
/** Fixture 004/005's allow-web: ingress to app=web on 8080 from the namespace's pods. */
export function allowWeb(namespace: string, name = 'allow-web'): NetworkPolicy {
  return networkPolicy(namespace, name, {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [{ from: [{ podSelector: {} }], ports: [{ protocol: 'TCP', port: 8080 }] }],
    policyTypes: ['Ingress'],
  })
}

export interface NamespaceOptions {
  labels?: Record<string, string>
  /** ISO timestamp or ms since the epoch. */
  createdAt?: string | number
  terminating?: boolean
}

export function namespaceObject(name: string, opts: NamespaceOptions = {}): Namespace {
  const created = opts.createdAt === undefined ? '2026-11-27T14:21:21Z' : typeof opts.createdAt === 'number' ? new Date(opts.createdAt).toISOString() : opts.createdAt
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: nextUid(),
      creationTimestamp: created,
      labels: { 'kubernetes.io/metadata.name': name, ...(opts.labels ?? {}) },
      ...(opts.terminating ? { deletionTimestamp: '2026-11-27T15:00:00Z' } : {}),
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: opts.terminating ? 'Terminating' : 'Active' },
  }
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface RequestOptions {
  operation: Operation
  resource: ResourceRef
  version?: string
  name?: string
  namespace?: string
  subResource?: string
  object?: KubeObject | null
  oldObject?: KubeObject | null
  userInfo?: UserInfo
  dryRun?: boolean
}

function optionsKind(op: Operation): string {
  return op === 'CREATE' ? 'CreateOptions' : op === 'UPDATE' ? 'UpdateOptions' : op === 'DELETE' ? 'DeleteOptions' : 'ConnectOptions'
}

/** An AdmissionRequest shaped like the apiserver's (v1), for any resource. */
export function admissionRequest(o: RequestOptions): AdmissionRequest {
  const version = o.version ?? (o.resource.group === '' ? 'v1' : o.resource.group === 'cilium.io' ? 'v2' : 'v1')
  const gvk = { group: o.resource.group, version, kind: o.resource.kind }
  const gvr = { group: o.resource.group, version, resource: o.resource.resource }
  const req: AdmissionRequest = {
    uid: nextUid(),
    kind: gvk,
    resource: gvr,
    requestKind: { ...gvk },
    requestResource: { ...gvr },
    operation: o.operation,
    userInfo: o.userInfo ?? DEVELOPER,
    object: o.object ?? null,
    oldObject: o.oldObject ?? null,
    dryRun: o.dryRun ?? false,
    options: { kind: optionsKind(o.operation), apiVersion: 'meta.k8s.io/v1' },
  }
  if (o.name !== undefined) req.name = o.name
  if (o.namespace !== undefined) req.namespace = o.namespace
  if (o.subResource !== undefined) {
    req.subResource = o.subResource
    req.requestSubResource = o.subResource
  }
  return req
}

/** A minimal object of a kind (Pod, Deployment, GlobalNetworkPolicy, ...). */
export function objectOf(ref: ResourceRef, name: string | undefined, namespace?: string, generateName?: string): KubeObject {
  const apiVersion = ref.group === '' ? 'v1' : `${ref.group}/${ref.group === 'cilium.io' ? 'v2' : 'v1'}`
  return {
    apiVersion,
    kind: ref.kind,
    metadata: {
      ...(name !== undefined ? { name } : {}),
      ...(generateName !== undefined ? { generateName } : {}),
      ...(namespace !== undefined ? { namespace } : {}),
    },
    spec: {},
  }
}

/** CREATE of a workload (Pod or controller) in a namespace. */
export function workloadCreate(ref: ResourceRef, namespace: string, name: string, extra: Partial<RequestOptions> = {}): AdmissionRequest {
  return admissionRequest({ operation: 'CREATE', resource: ref, namespace, name, object: objectOf(ref, name, namespace), ...extra })
}

/** CREATE/UPDATE/DELETE of a NetworkPolicy; object and oldObject as the apiserver sends them. */
export function policyRequest(
  operation: Operation,
  policy: NetworkPolicy,
  oldPolicy?: NetworkPolicy | null,
  extra: Partial<RequestOptions> = {},
): AdmissionRequest {
  const meta = policy.metadata ?? {}
  return admissionRequest({
    operation,
    resource: NETWORK_POLICIES,
    name: meta.name ?? '',
    namespace: meta.namespace,
    object: operation === 'DELETE' ? null : policy,
    oldObject: operation === 'CREATE' ? null : operation === 'DELETE' ? policy : (oldPolicy ?? null),
    ...extra,
  })
}

export const createPolicy = (p: NetworkPolicy, extra?: Partial<RequestOptions>): AdmissionRequest => policyRequest('CREATE', p, null, extra)
export const updatePolicy = (before: NetworkPolicy, after: NetworkPolicy, extra?: Partial<RequestOptions>): AdmissionRequest =>
  policyRequest('UPDATE', after, before, extra)
export const deletePolicy = (p: NetworkPolicy, extra?: Partial<RequestOptions>): AdmissionRequest => policyRequest('DELETE', p, null, extra)

/** A Namespace CREATE (labels as they reach the validating webhook) or UPDATE (oldLabels → labels). */
export function namespaceRequest(
  operation: 'CREATE' | 'UPDATE' | 'DELETE',
  name: string,
  labels: Record<string, string>,
  oldLabels?: Record<string, string>,
  extra: Partial<RequestOptions> = {},
): AdmissionRequest {
  const obj = namespaceObject(name, { labels })
  const old = oldLabels === undefined ? null : namespaceObject(name, { labels: oldLabels })
  return admissionRequest({
    operation,
    resource: NAMESPACES,
    name,
    namespace: name, // the apiserver sets request.namespace to the namespace's own name
    object: operation === 'DELETE' ? null : obj,
    oldObject: operation === 'CREATE' ? null : (old ?? obj),
    ...extra,
  })
}

// ---------------------------------------------------------------------------------------------
// Views and contexts

export const NOW = Date.parse('2026-11-27T14:30:00Z')

export interface ViewSpec {
  namespaces?: Array<string | Namespace>
  policies?: NetworkPolicy[]
}

/** A MemoryView holding the given namespaces (names or objects) and policies. */
export function viewOf(spec: ViewSpec = {}): MemoryView {
  const view = new MemoryView()
  for (const ns of spec.namespaces ?? []) view.upsertNamespace(typeof ns === 'string' ? namespaceObject(ns) : ns)
  for (const p of spec.policies ?? []) view.upsertPolicy(p.metadata?.namespace ?? 'default', p)
  return view
}

export function config(overrides: Partial<GuardConfig> = {}): GuardConfig {
  return defaultConfig(overrides)
}

export function ctx(request: AdmissionRequest, view: MemoryView = viewOf(), cfg: GuardConfig = config(), now = NOW): RuleContext {
  return { request, view, config: cfg, now }
}

// ---------------------------------------------------------------------------------------------
// Message checks

interface Asserter {
  ok(v: unknown, msg: string): unknown
  match(found: unknown, pattern: RegExp | string, msg: string): unknown
  equal(a: unknown, b: unknown, msg: string): unknown
}

/** The contract's message shape: one line, `[rule] ` first, names the object, says what to do. */
export function assertMessage(
  t: Asserter,
  f: Finding | undefined,
  rule: string,
  object: string,
  phrases: Array<string | RegExp> = [],
): void {
  t.ok(f, `${rule} finds something`)
  if (!f) return
  t.equal(f.rule, rule, 'finding names its rule')
  t.ok(f.message.startsWith(`[${rule}] `), `message begins with [${rule}]: ${f.message}`)
  t.ok(!/[\r\n]/.test(f.message), 'message is one line')
  t.ok(f.message.includes(object), `message names ${object}`)
  t.match(f.message, /\b(instead|first|[Aa]dd|[Cc]reate|[Kk]eep|[Aa]llow only|[Ll]eave|[Aa]sk|[Ww]rite|[Ss]et|[Uu]se|[Ll]ist)\b/, 'message says what to do')
  for (const p of phrases) t.match(f.message, p, `message mentions ${String(p)}`)
}
