// In-memory ClusterView: a map of namespace info and a map of per-namespace policy summaries.
// The static (file) view and the live (watch) view both write into one of these.
import { isRecord } from '../k8s/types.js';
import { summarizePolicy } from '../policy/coverage.js';
export function namespaceInfo(ns) {
    const meta = isRecord(ns.metadata) ? ns.metadata : undefined;
    const name = meta && typeof meta.name === 'string' ? meta.name : undefined;
    if (!name)
        return undefined;
    const labels = {};
    if (meta && isRecord(meta.labels))
        for (const [k, v] of Object.entries(meta.labels))
            if (typeof v === 'string')
                labels[k] = v;
    const phase = isRecord(ns.status) ? ns.status.phase : undefined;
    const created = typeof meta?.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN;
    return {
        name,
        labels,
        terminating: phase === 'Terminating' || typeof meta?.deletionTimestamp === 'string',
        ...(Number.isFinite(created) ? { createdAt: created } : {}),
    };
}
export class MemoryView {
    namespaces = new Map();
    policiesByNs = new Map();
    pending = new Map();
    namespace(name) {
        return this.namespaces.get(name);
    }
    policies(namespace) {
        const m = this.policiesByNs.get(namespace);
        return m ? [...m.values()] : [];
    }
    pendingInjection(namespace) {
        return this.pending.get(namespace);
    }
    namespaceNames() {
        return this.namespaces.keys();
    }
    namespaceCount() {
        return this.namespaces.size;
    }
    policyCount() {
        let n = 0;
        for (const m of this.policiesByNs.values())
            n += m.size;
        return n;
    }
    /** Names of the namespace's policies (for audit and tests). */
    policyNames(namespace) {
        return [...(this.policiesByNs.get(namespace)?.keys() ?? [])];
    }
    upsertNamespace(ns) {
        const info = 'labels' in ns && typeof ns.name === 'string' && 'terminating' in ns
            ? ns
            : namespaceInfo(ns);
        if (info)
            this.namespaces.set(info.name, info);
    }
    deleteNamespace(name) {
        this.namespaces.delete(name);
        this.policiesByNs.delete(name);
        this.pending.delete(name);
    }
    upsertPolicy(namespace, np) {
        const summary = 'coversIngress' in np ? np : summarizePolicy(np);
        let m = this.policiesByNs.get(namespace);
        if (!m)
            this.policiesByNs.set(namespace, (m = new Map()));
        m.set(summary.name, summary);
        // A namespace that now holds a guard-made policy no longer needs its pending promise.
        if (summary.managedByGuard)
            this.pending.delete(namespace);
    }
    deletePolicy(namespace, name) {
        const m = this.policiesByNs.get(namespace);
        if (!m)
            return;
        m.delete(name);
        if (m.size === 0)
            this.policiesByNs.delete(namespace);
    }
    markPending(namespace, at) {
        this.pending.set(namespace, at);
    }
    clearPending(namespace) {
        this.pending.delete(namespace);
    }
    /** Swaps in a complete namespace list at once (a relist), so no request sees a half-filled view. */
    replaceNamespaces(list) {
        const next = new Map();
        for (const ns of list) {
            const info = 'terminating' in ns ? ns : namespaceInfo(ns);
            if (info)
                next.set(info.name, info);
        }
        this.namespaces = next;
    }
    /** Swaps in a complete NetworkPolicy list at once (a relist). */
    replacePolicies(list) {
        const next = new Map();
        for (const { namespace, policy } of list) {
            const summary = 'coversIngress' in policy ? policy : summarizePolicy(policy);
            let m = next.get(namespace);
            if (!m)
                next.set(namespace, (m = new Map()));
            m.set(summary.name, summary);
            if (summary.managedByGuard)
                this.pending.delete(namespace);
        }
        this.policiesByNs = next;
    }
    /** Drops everything (before a relist replaces the contents). */
    clear() {
        this.namespaces.clear();
        this.policiesByNs.clear();
        // pending promises survive a relist: they are this process's own intent
    }
}
//# sourceMappingURL=memory-view.js.map