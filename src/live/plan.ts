// What the reconciler should do about one namespace: a pure function of the view's facts and the config.
import { isExemptNamespace, type GuardConfig } from '../config.js'
import { namespaceMode } from '../decision/mode.js'
import { coverageOf, type Coverage, type PolicySummary } from '../policy/coverage.js'
import type { NamespaceInfo } from '../view/cluster-view.js'

export type NamespacePlan =
  | { action: 'none'; why: 'unknown' | 'exempt' | 'terminating' | 'covered' }
  /** Enforce: create the deny-all policy. */
  | { action: 'inject'; coverage: Coverage }
  /** Non-compliant, but the guard must not write: dry-run, or a foreign/altered policy holds the name. */
  | { action: 'report'; why: 'dry-run' | 'name-conflict'; coverage: Coverage }

export function planNamespace(info: NamespaceInfo | undefined, policies: readonly PolicySummary[], config: GuardConfig): NamespacePlan {
  if (!info) return { action: 'none', why: 'unknown' }
  if (isExemptNamespace(info.name, info.labels, config)) return { action: 'none', why: 'exempt' }
  if (info.terminating) return { action: 'none', why: 'terminating' }
  const coverage = coverageOf(policies)
  if (coverage.ingress && coverage.egress) return { action: 'none', why: 'covered' }
  // The namespace's label wins either way, as in admission: a namespace labelled enforce under a global dry-run has
  // its workloads refused, so it must get its deny-all.
  if (namespaceMode(info.labels, config) === 'dry-run') return { action: 'report', why: 'dry-run', coverage }
  // The name is taken by a policy that does not give coverage: never overwrite it, say so.
  if (policies.some((p) => p.name === config.policyName)) return { action: 'report', why: 'name-conflict', coverage }
  return { action: 'inject', coverage }
}

export function isNoncompliant(plan: NamespacePlan): boolean {
  return plan.action !== 'none'
}
