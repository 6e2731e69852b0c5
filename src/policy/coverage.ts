// Per-direction deny-all analysis of NetworkPolicies (after kubeaudit's approach: judge ingress and
// egress separately, using the policy's *effective* policyTypes).
import { isRecord, type LabelSelector, type NetworkPolicy } from '../k8s/types.js'

export type Direction = 'Ingress' | 'Egress'

/** What one NetworkPolicy contributes to its namespace's deny-all coverage. */
export interface PolicySummary {
  name: string
  /** Selects every pod of the namespace (podSelector {} / matchLabels {} / absent). */
  selectsAllPods: boolean
  /** Gives deny-all coverage for the direction: selects all pods, enforces it, has no rules for it. */
  coversIngress: boolean
  coversEgress: boolean
  /** Selects all pods and has a rule that allows everything, in a direction it enforces. */
  allowAllIngress: boolean
  allowAllEgress: boolean
  /** Created by netpol-guard (label app.kubernetes.io/managed-by: netpol-guard). */
  managedByGuard: boolean
}

export interface Coverage {
  ingress: boolean
  egress: boolean
}

export type CoverageLabel = 'both' | 'ingress only' | 'egress only' | 'none'

function isEmptySelector(sel: unknown): boolean {
  if (sel === undefined || sel === null) return true
  if (!isRecord(sel)) return false
  const s = sel as LabelSelector
  if (Array.isArray(s.matchExpressions) && s.matchExpressions.length > 0) return false
  // Any own key of matchLabels makes the selector select some pods only (no key array built: this runs on every
  // NetworkPolicy request).
  if (isRecord(s.matchLabels)) for (const k in s.matchLabels) if (Object.hasOwn(s.matchLabels, k)) return false
  return true
}

function rulesOf(spec: Record<string, unknown>, field: 'ingress' | 'egress'): unknown[] {
  const v = spec[field]
  return Array.isArray(v) ? v : []
}

/** policyTypes as the API server applies them: when absent, Ingress, plus Egress if there are egress rules. */
export function effectivePolicyTypes(np: NetworkPolicy): Set<Direction> {
  const t = policyTypeFlags(isRecord(np.spec) ? (np.spec as Record<string, unknown>) : {})
  const out = new Set<Direction>()
  if (t & INGRESS) out.add('Ingress')
  if (t & EGRESS) out.add('Egress')
  return out
}

const INGRESS = 1
const EGRESS = 2

/** effectivePolicyTypes as bits (no Set or array per call: summarizePolicy runs on every NetworkPolicy request). */
function policyTypeFlags(spec: Record<string, unknown>): number {
  const declared = spec.policyTypes
  if (Array.isArray(declared)) {
    let t = 0
    let strings = 0
    for (let i = 0; i < declared.length; i++) {
      const v: unknown = declared[i]
      if (typeof v !== 'string') continue
      strings++
      if (v === 'Ingress') t |= INGRESS
      else if (v === 'Egress') t |= EGRESS
    }
    if (strings > 0) return t
  }
  return INGRESS | (rulesOf(spec, 'egress').length > 0 ? EGRESS : 0)
}

function peersOrPortsEmpty(rule: unknown, peerField: 'from' | 'to'): boolean {
  // A null/absent rule entry ({}), with no peers and no ports, matches all traffic.
  if (rule === null || rule === undefined) return true
  if (!isRecord(rule)) return false
  const peers = rule[peerField]
  const ports = rule.ports
  const noPeers = peers === undefined || peers === null || (Array.isArray(peers) && peers.length === 0)
  const noPorts = ports === undefined || ports === null || (Array.isArray(ports) && ports.length === 0)
  return noPeers && noPorts
}

const MANAGED_BY = 'app.kubernetes.io/managed-by'

function anyAllowsAll(rules: unknown[], peerField: 'from' | 'to'): boolean {
  for (let i = 0; i < rules.length; i++) if (peersOrPortsEmpty(rules[i], peerField)) return true
  return false
}

export function summarizePolicy(np: NetworkPolicy): PolicySummary {
  const spec = isRecord(np.spec) ? (np.spec as Record<string, unknown>) : {}
  const meta = isRecord(np.metadata) ? np.metadata : {}
  const labels = isRecord(meta.labels) ? (meta.labels as Record<string, unknown>) : {}
  const selectsAllPods = isEmptySelector(spec.podSelector)
  const types = policyTypeFlags(spec)
  const ingress = rulesOf(spec, 'ingress')
  const egress = rulesOf(spec, 'egress')
  const enforcesIngress = selectsAllPods && (types & INGRESS) !== 0
  const enforcesEgress = selectsAllPods && (types & EGRESS) !== 0
  return {
    name: typeof meta.name === 'string' ? meta.name : '',
    selectsAllPods,
    coversIngress: enforcesIngress && ingress.length === 0,
    coversEgress: enforcesEgress && egress.length === 0,
    allowAllIngress: enforcesIngress && anyAllowsAll(ingress, 'from'),
    allowAllEgress: enforcesEgress && anyAllowsAll(egress, 'to'),
    managedByGuard: labels[MANAGED_BY] === 'netpol-guard',
  }
}

export function coverageOf(policies: Iterable<Pick<PolicySummary, 'coversIngress' | 'coversEgress'>>): Coverage {
  let ingress = false
  let egress = false
  for (const p of policies) {
    ingress ||= p.coversIngress
    egress ||= p.coversEgress
    if (ingress && egress) break
  }
  return { ingress, egress }
}

export function isCovered(c: Coverage): boolean {
  return c.ingress && c.egress
}

export function coverageLabel(c: Coverage): CoverageLabel {
  if (c.ingress && c.egress) return 'both'
  if (c.ingress) return 'ingress only'
  if (c.egress) return 'egress only'
  return 'none'
}

/** The deny-all NetworkPolicy the guard injects. */
export function denyAllPolicy(namespace: string, name: string): NetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_BY]: 'netpol-guard' },
      annotations: {
        'netpol-guard.io/description':
          'Denies all ingress and egress for every pod of the namespace. Add NetworkPolicies that allow what is needed.',
      },
    },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  }
}
