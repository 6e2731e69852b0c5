// Guard configuration: defaults, plus the optional YAML file given with --config.
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { isRecord } from './k8s/types.js'
import { DEFAULT_CLUSTER_WIDE_KINDS, type ResourceRef } from './policy/kinds.js'

export const RULE_IDS = [
  'no-global-policy',
  'require-deny-all',
  'protect-deny-all',
  'no-allow-all',
  'protect-guard-labels',
] as const
export type RuleId = (typeof RULE_IDS)[number]

export type Mode = 'enforce' | 'dry-run'

/** What the guard answered a review: the `decision` of its log line and of netpol_guard_admission_requests_total. */
export type Decision = 'allow' | 'deny' | 'warn' | 'patch'

export interface GuardConfig {
  mode: Mode
  /** The guard's own namespace: always exempt. */
  namespace: string
  /** Rules switched on. */
  rules: Record<RuleId, boolean>
  /** Cluster-wide network policy resources refused by no-global-policy. */
  clusterWideKinds: ResourceRef[]
  /** Namespaces exempt besides kube-system, kube-public, kube-node-lease and the guard's own. */
  exemptNamespaces: string[]
  /** Name of the injected deny-all NetworkPolicy. */
  policyName: string
  /** Users and groups allowed to set netpol-guard.io/ labels (the guard's ServiceAccount is always allowed). */
  privilegedUsers: string[]
  privilegedGroups: string[]
  /** The guard's ServiceAccount name (in `namespace`), always privileged. */
  serviceAccount: string
  /** How long a namespace labelled deny-all: injected counts as covered before its policy is seen. */
  injectionGraceSeconds: number
  /** Live mode: when the API server cannot be reached to verify a denial, deny (true) or allow (false). */
  failClosed: boolean
  /** Live mode: /readyz turns 503 when no watch event or successful list was seen for this long. */
  staleAfterSeconds: number
  /** Live mode: how long verify-before-deny may wait for the API server. */
  verifyTimeoutMs: number
}

export const ALWAYS_EXEMPT = ['kube-system', 'kube-public', 'kube-node-lease'] as const

export function defaultConfig(overrides: Partial<GuardConfig> = {}): GuardConfig {
  return {
    mode: 'enforce',
    namespace: 'netpol-guard',
    rules: Object.fromEntries(RULE_IDS.map((r) => [r, true])) as Record<RuleId, boolean>,
    clusterWideKinds: DEFAULT_CLUSTER_WIDE_KINDS.map((k) => ({ ...k })),
    exemptNamespaces: [],
    policyName: 'deny-all',
    privilegedUsers: [],
    privilegedGroups: ['system:masters'],
    serviceAccount: 'netpol-guard',
    injectionGraceSeconds: 60,
    failClosed: false,
    staleAfterSeconds: 300,
    verifyTimeoutMs: 2000,
    ...overrides,
  }
}

export class ConfigError extends Error {}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** The smallest staleAfterSeconds a config file may set (see its check in parseConfig). */
export const MIN_STALE_AFTER_SECONDS = 3

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(`${field} must be a list of strings`)
  return v as string[]
}

/**
 * Reads the YAML config file. Keys (all optional):
 * rules: {<rule-id>: true|false}, clusterWideKinds: [{group, resource, kind}], exemptNamespaces: [..],
 * policyName, privilegedUsers: [..], privilegedGroups: [..], serviceAccount, injectionGraceSeconds,
 * failClosed, staleAfterSeconds, verifyTimeoutMs.
 */
export function parseConfig(text: string, base: GuardConfig = defaultConfig()): GuardConfig {
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (e) {
    throw new ConfigError(`not valid YAML: ${(e as Error).message.split('\n')[0]}`)
  }
  if (doc === null || doc === undefined) return base
  if (!isRecord(doc)) throw new ConfigError('must be a YAML mapping')
  const cfg: GuardConfig = { ...base, rules: { ...base.rules } }
  const known = new Set([
    'rules', 'clusterWideKinds', 'exemptNamespaces', 'policyName', 'privilegedUsers', 'privilegedGroups',
    'serviceAccount', 'injectionGraceSeconds', 'failClosed', 'staleAfterSeconds', 'verifyTimeoutMs',
  ])
  for (const key of Object.keys(doc)) if (!known.has(key)) throw new ConfigError(`unknown key "${key}"`)
  if (doc.rules !== undefined) {
    if (!isRecord(doc.rules)) throw new ConfigError('rules must be a mapping of rule id to true/false')
    for (const [id, on] of Object.entries(doc.rules)) {
      if (!(RULE_IDS as readonly string[]).includes(id)) throw new ConfigError(`rules: unknown rule "${id}" (known: ${RULE_IDS.join(', ')})`)
      if (typeof on !== 'boolean') throw new ConfigError(`rules.${id} must be true or false`)
      cfg.rules[id as RuleId] = on
    }
  }
  if (doc.clusterWideKinds !== undefined) {
    if (!Array.isArray(doc.clusterWideKinds)) throw new ConfigError('clusterWideKinds must be a list')
    cfg.clusterWideKinds = doc.clusterWideKinds.map((k, i) => {
      if (!isRecord(k) || typeof k.group !== 'string' || typeof k.resource !== 'string' || !k.resource)
        throw new ConfigError(`clusterWideKinds[${i}] needs group and resource strings`)
      const kind = typeof k.kind === 'string' && k.kind ? k.kind : k.resource
      return { group: k.group, resource: k.resource.toLowerCase(), kind }
    })
  }
  if (doc.exemptNamespaces !== undefined) cfg.exemptNamespaces = stringList(doc.exemptNamespaces, 'exemptNamespaces')
  if (doc.privilegedUsers !== undefined) cfg.privilegedUsers = stringList(doc.privilegedUsers, 'privilegedUsers')
  if (doc.privilegedGroups !== undefined) cfg.privilegedGroups = stringList(doc.privilegedGroups, 'privilegedGroups')
  for (const key of ['policyName', 'serviceAccount'] as const) {
    const v = doc[key]
    if (v === undefined) continue
    if (typeof v !== 'string' || !DNS_LABEL.test(v)) throw new ConfigError(`${key} must be a DNS label (lower case letters, digits, -)`)
    cfg[key] = v
  }
  for (const key of ['injectionGraceSeconds', 'staleAfterSeconds', 'verifyTimeoutMs'] as const) {
    const v = doc[key]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`${key} must be a non-negative number`)
    cfg[key] = v
  }
  // The watches are re-established every staleAfterSeconds / 3 (whole seconds, at least 1: the API's
  // timeoutSeconds), and that counts as activity: below 3 s an idle, healthy cluster would flap between ready and
  // stale.
  if (cfg.staleAfterSeconds < MIN_STALE_AFTER_SECONDS) throw new ConfigError(`staleAfterSeconds must be at least ${MIN_STALE_AFTER_SECONDS}`)
  if (doc.failClosed !== undefined) {
    if (typeof doc.failClosed !== 'boolean') throw new ConfigError('failClosed must be true or false')
    cfg.failClosed = doc.failClosed
  }
  return cfg
}

export function loadConfigFile(path: string, base?: GuardConfig): GuardConfig {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  try {
    return parseConfig(text, base)
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`)
  }
}

export function isExemptNamespace(name: string, labels: Readonly<Record<string, string>> | undefined, cfg: GuardConfig): boolean {
  if ((ALWAYS_EXEMPT as readonly string[]).includes(name)) return true
  if (name === cfg.namespace) return true
  if (cfg.exemptNamespaces.includes(name)) return true
  return labels?.['netpol-guard.io/exempt'] === 'true'
}

export function guardServiceAccountUser(cfg: GuardConfig): string {
  return `system:serviceaccount:${cfg.namespace}:${cfg.serviceAccount}`
}
