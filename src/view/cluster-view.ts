// The cluster view: what decisions know about the cluster. Rules read it through this interface only;
// it is implemented in memory (MemoryView), filled from a state file (standalone) or by watches (live).
import type { Coverage, PolicySummary } from '../policy/coverage.js'

/** What decisions need of a Namespace: not the whole object. */
export interface NamespaceInfo {
  name: string
  /**
   * The namespace's netpol-guard.io/ labels (exempt, mode, deny-all): the only labels decisions read, so the only
   * ones a view keeps (10,000 namespaces' other labels would be memory and cache misses for nothing).
   */
  labels: Readonly<Record<string, string>>
  terminating: boolean
  /** creationTimestamp in ms since the epoch, when known. */
  createdAt?: number
}

export interface ClusterView {
  /** The namespace as last seen, or undefined when the view does not hold it. */
  namespace(name: string): NamespaceInfo | undefined
  /** Summaries of the namespace's NetworkPolicies (empty when none are known). */
  policies(namespace: string): readonly PolicySummary[]
  /** The deny-all coverage those policies give (coverageOf(policies(namespace))), which a view may keep ready. */
  policyCoverage(namespace: string): Coverage
  /** ms timestamp at which this process promised to inject deny-all into the namespace, if it did. */
  pendingInjection(namespace: string): number | undefined
  /** Every namespace the view holds (for audit/reconcile; not used on the hot path). */
  namespaceNames(): Iterable<string>
}
