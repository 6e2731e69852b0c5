// In-memory ClusterView: a map of namespace info and a map of per-namespace policy summaries.
// The static (file) view and the live (watch) view both write into one of these.
import { isRecord, type Namespace, type NetworkPolicy } from '../k8s/types.js'
import { summarizePolicy, type PolicySummary } from '../policy/coverage.js'
import type { ClusterView, NamespaceInfo } from './cluster-view.js'

export function namespaceInfo(ns: Namespace): NamespaceInfo | undefined {
  const meta = isRecord(ns.metadata) ? ns.metadata : undefined
  const name = meta && typeof meta.name === 'string' ? meta.name : undefined
  if (!name) return undefined
  const labels: Record<string, string> = {}
  if (meta && isRecord(meta.labels)) for (const [k, v] of Object.entries(meta.labels)) if (typeof v === 'string') labels[k] = v
  const phase = isRecord(ns.status) ? ns.status.phase : undefined
  const created = typeof meta?.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN
  return {
    name,
    labels,
    terminating: phase === 'Terminating' || typeof meta?.deletionTimestamp === 'string',
    ...(Number.isFinite(created) ? { createdAt: created } : {}),
  }
}

export class MemoryView implements ClusterView {
  private namespaces = new Map<string, NamespaceInfo>()
  private policiesByNs = new Map<string, Map<string, PolicySummary>>()
  private readonly pending = new Map<string, number>()

  namespace(name: string): NamespaceInfo | undefined {
    return this.namespaces.get(name)
  }

  policies(namespace: string): readonly PolicySummary[] {
    const m = this.policiesByNs.get(namespace)
    return m ? [...m.values()] : []
  }

  pendingInjection(namespace: string): number | undefined {
    return this.pending.get(namespace)
  }

  namespaceNames(): Iterable<string> {
    return this.namespaces.keys()
  }

  namespaceCount(): number {
    return this.namespaces.size
  }

  policyCount(): number {
    let n = 0
    for (const m of this.policiesByNs.values()) n += m.size
    return n
  }

  /** Names of the namespace's policies (for audit and tests). */
  policyNames(namespace: string): string[] {
    return [...(this.policiesByNs.get(namespace)?.keys() ?? [])]
  }

  upsertNamespace(ns: Namespace | NamespaceInfo): void {
    const info = 'labels' in ns && typeof (ns as NamespaceInfo).name === 'string' && 'terminating' in ns
      ? (ns as NamespaceInfo)
      : namespaceInfo(ns as Namespace)
    if (info) this.namespaces.set(info.name, info)
  }

  deleteNamespace(name: string): void {
    this.namespaces.delete(name)
    this.policiesByNs.delete(name)
    this.pending.delete(name)
  }

  upsertPolicy(namespace: string, np: NetworkPolicy | PolicySummary): void {
    const summary = 'coversIngress' in np ? (np as PolicySummary) : summarizePolicy(np as NetworkPolicy)
    let m = this.policiesByNs.get(namespace)
    if (!m) this.policiesByNs.set(namespace, (m = new Map()))
    m.set(summary.name, summary)
    // A namespace that now holds a guard-made policy no longer needs its pending promise.
    if (summary.managedByGuard) this.pending.delete(namespace)
  }

  deletePolicy(namespace: string, name: string): void {
    const m = this.policiesByNs.get(namespace)
    if (!m) return
    m.delete(name)
    if (m.size === 0) this.policiesByNs.delete(namespace)
  }

  markPending(namespace: string, at: number): void {
    this.pending.set(namespace, at)
  }

  clearPending(namespace: string): void {
    this.pending.delete(namespace)
  }

  /** Swaps in a complete namespace list at once (a relist), so no request sees a half-filled view. */
  replaceNamespaces(list: Iterable<Namespace | NamespaceInfo>): void {
    const next = new Map<string, NamespaceInfo>()
    for (const ns of list) {
      const info = 'terminating' in ns ? (ns as NamespaceInfo) : namespaceInfo(ns as Namespace)
      if (info) next.set(info.name, info)
    }
    this.namespaces = next
  }

  /** Swaps in a complete NetworkPolicy list at once (a relist). */
  replacePolicies(list: Iterable<{ namespace: string; policy: NetworkPolicy | PolicySummary }>): void {
    const next = new Map<string, Map<string, PolicySummary>>()
    for (const { namespace, policy } of list) {
      const summary = 'coversIngress' in policy ? (policy as PolicySummary) : summarizePolicy(policy as NetworkPolicy)
      let m = next.get(namespace)
      if (!m) next.set(namespace, (m = new Map()))
      m.set(summary.name, summary)
      if (summary.managedByGuard) this.pending.delete(namespace)
    }
    this.policiesByNs = next
  }

  /** Drops everything (before a relist replaces the contents). */
  clear(): void {
    this.namespaces.clear()
    this.policiesByNs.clear()
    // pending promises survive a relist: they are this process's own intent
  }
}
