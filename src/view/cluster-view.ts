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

/**
 * What the admission rules read of a namespace on every request: its guard labels, whether it is terminating, and
 * the deny-all coverage of its policies. Values, not identity: a view may hand the same object to every namespace in
 * the same state (the guard's labels take few values), so that the lookup is the only per-namespace memory a request
 * touches.
 */
export interface NamespaceState {
  readonly labels: Readonly<Record<string, string>>
  readonly terminating: boolean
  /** coverageOf(policies(namespace)) */
  readonly coverage: Coverage
}

export interface ClusterView {
  /** The namespace as last seen, or undefined when the view does not hold it. */
  namespace(name: string): NamespaceInfo | undefined
  /** namespace(name)'s labels and terminating state with policyCoverage(name), or undefined when namespace(name) is. */
  namespaceState(name: string): NamespaceState | undefined
  /** Summaries of the namespace's NetworkPolicies (empty when none are known). */
  policies(namespace: string): readonly PolicySummary[]
  /** The deny-all coverage those policies give (coverageOf(policies(namespace))), which a view may keep ready. */
  policyCoverage(namespace: string): Coverage
  /** ms timestamp at which this process promised to inject deny-all into the namespace, if it did. */
  pendingInjection(namespace: string): number | undefined
  /** Every namespace the view holds (for audit/reconcile; not used on the hot path). */
  namespaceNames(): Iterable<string>
}
