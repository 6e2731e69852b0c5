// What a rule is: a pure function of (request, cluster view, config, clock) returning a finding or nothing.
import type { GuardConfig, RuleId } from '../config.js'
import { isRecord, metaString, LABEL_DENY_ALL, LABEL_DENY_ALL_INJECTED, type AdmissionRequest } from '../k8s/types.js'
import type { Coverage } from '../policy/coverage.js'
import { kindOf } from '../policy/kinds.js'
import type { ClusterView } from '../view/cluster-view.js'

export interface RuleContext {
  request: AdmissionRequest
  view: ClusterView
  config: GuardConfig
  /** ms since the epoch; passed in so decisions stay pure. */
  now: number
}

export interface Finding {
  rule: RuleId
  /** One line, begins with `[rule] `, names the object and says what to do instead. */
  message: string
}

export interface Rule {
  id: RuleId
  evaluate(ctx: RuleContext): Finding | undefined
}

/** Rule texts are built one-line; text from the request (names, namespaces, user names) goes through oneLine() first. */
export function finding(rule: RuleId, text: string): Finding {
  return { rule, message: `[${rule}] ${text}` }
}

// Spaces are fine; line breaks, tabs and other control characters (C0, DEL, C1: a terminal's escape sequences too)
// would break or disguise the one-line message. Anchored and negated: one loop over the text rather than a match
// attempt at every position (this runs on every refusal).
const ONE_LINE = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$/

/** Free text from a request, made safe for a one-line message: each run of white space or controls is one space. */
export function oneLine(text: string): string {
  return ONE_LINE.test(text) ? text : text.replace(/[\s\u0000-\u001f\u007f-\u009f]+/g, ' ').trim()
}

/** The string if it has anything but white space in it: a blank kind, name or namespace would leave a hole in a message. */
export function nonBlank(s: unknown): string | undefined {
  return typeof s === 'string' && /\S/.test(s) ? s : undefined
}

/** The namespace a request is about: the request's, else its object's; a blank one is none (nothing to look up or name). */
export function requestNamespace(req: AdmissionRequest): string | undefined {
  return nonBlank(req.namespace) ?? nonBlank(metaString(req.object ?? req.oldObject, 'namespace'))
}

/** "Kind namespace/name" as the developer wrote it; generateName when the name is not set yet. */
export function describeObject(req: AdmissionRequest, clusterWide: GuardConfig['clusterWideKinds'] = []): string {
  const kind =
    (isRecord(req.kind) ? nonBlank(req.kind.kind) : undefined) ??
    (isRecord(req.resource) ? nonBlank(kindOf(req.resource, clusterWide)) : undefined) ??
    (isRecord(req.resource) ? nonBlank(req.resource.resource) : undefined) ??
    'object'
  const obj = req.object ?? req.oldObject
  let name = nonBlank(req.name) ?? nonBlank(metaString(obj, 'name'))
  if (!name) {
    const gen = nonBlank(metaString(obj, 'generateName'))
    name = gen ? `${gen}* (generateName)` : '(unnamed)'
  }
  const ns = requestNamespace(req)
  const isNamespace = req.resource?.group === '' && req.resource?.resource === 'namespaces'
  // Trimmed here, for the message only (lookups use the names as sent): ` !` as a kind would open it with a gap.
  return oneLine(ns && !isNamespace ? `${kind.trim()} ${ns.trim()}/${name.trim()}` : `${kind.trim()} ${name.trim()}`)
}

export function isPrivileged(req: AdmissionRequest, cfg: GuardConfig): boolean {
  const user = req.userInfo?.username
  if (typeof user === 'string') {
    if (cfg.privilegedUsers.includes(user)) return true
    if (user === `system:serviceaccount:${cfg.namespace}:${cfg.serviceAccount}`) return true
  }
  const groups = Array.isArray(req.userInfo?.groups) ? req.userInfo.groups : []
  return groups.some((g) => cfg.privilegedGroups.includes(g))
}

/** Deny-all coverage of a namespace given its policies, plus whether an injection is pending. */
export interface NamespaceCoverage extends Coverage {
  /** Covered only because the guard has promised (or is within the grace period of) an injection. */
  pending: boolean
}

export function injectionPending(view: ClusterView, namespace: string, cfg: GuardConfig, now: number): boolean {
  const graceMs = cfg.injectionGraceSeconds * 1000
  const promised = view.pendingInjection(namespace)
  if (promised !== undefined && now - promised <= graceMs) return true
  // The label first (in the state, which the caller has just read): the full record only for a labelled namespace.
  if (view.namespaceState(namespace)?.labels[LABEL_DENY_ALL] !== LABEL_DENY_ALL_INJECTED) return false
  const createdAt = view.namespace(namespace)?.createdAt
  return createdAt !== undefined && now - createdAt <= graceMs && now - createdAt >= -graceMs
}

export function namespaceCoverage(
  view: ClusterView,
  namespace: string,
  cfg: GuardConfig,
  now: number,
): NamespaceCoverage {
  const c = view.policyCoverage(namespace)
  if (c.ingress && c.egress) return { ingress: true, egress: true, pending: false }
  if (injectionPending(view, namespace, cfg, now)) return { ingress: true, egress: true, pending: true }
  return { ingress: c.ingress, egress: c.egress, pending: false }
}

export function missingDirections(c: Coverage): string {
  if (!c.ingress && !c.egress) return 'ingress and egress'
  return c.ingress ? 'egress' : 'ingress'
}

export function isSubresource(req: AdmissionRequest): boolean {
  return typeof req.subResource === 'string' && req.subResource !== ''
}
