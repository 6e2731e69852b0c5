// A view that replaces one namespace's policies (and terminating state) with fresher data read from
// the API server, leaving everything else to the underlying view.
import { coverageOf, type Coverage, type PolicySummary } from '../policy/coverage.js'
import type { ClusterView, NamespaceInfo, NamespaceState } from './cluster-view.js'

export class NamespaceOverlayView implements ClusterView {
  constructor(
    private readonly base: ClusterView,
    private readonly ns: string,
    private readonly fresh: readonly PolicySummary[],
    private readonly terminating?: boolean,
    private readonly freshNamespace?: NamespaceInfo,
  ) {}

  namespace(name: string): NamespaceInfo | undefined {
    if (name === this.ns && this.freshNamespace) return this.freshNamespace
    const info = this.base.namespace(name)
    if (name !== this.ns || this.terminating === undefined) return info
    return { name, labels: info?.labels ?? {}, ...(info?.createdAt !== undefined ? { createdAt: info.createdAt } : {}), terminating: this.terminating }
  }

  namespaceState(name: string): NamespaceState | undefined {
    if (name !== this.ns) return this.base.namespaceState(name)
    const info = this.namespace(name)
    return info ? { labels: info.labels, terminating: info.terminating, coverage: coverageOf(this.fresh) } : undefined
  }

  policies(namespace: string): readonly PolicySummary[] {
    return namespace === this.ns ? this.fresh : this.base.policies(namespace)
  }

  policyCoverage(namespace: string): Coverage {
    return namespace === this.ns ? coverageOf(this.fresh) : this.base.policyCoverage(namespace)
  }

  pendingInjection(namespace: string): number | undefined {
    return this.base.pendingInjection(namespace)
  }

  namespaceNames(): Iterable<string> {
    return this.base.namespaceNames()
  }
}
