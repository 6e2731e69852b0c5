export class NamespaceOverlayView {
    base;
    ns;
    fresh;
    terminating;
    constructor(base, ns, fresh, terminating) {
        this.base = base;
        this.ns = ns;
        this.fresh = fresh;
        this.terminating = terminating;
    }
    namespace(name) {
        const info = this.base.namespace(name);
        if (name !== this.ns || this.terminating === undefined)
            return info;
        return { name, labels: info?.labels ?? {}, ...(info?.createdAt !== undefined ? { createdAt: info.createdAt } : {}), terminating: this.terminating };
    }
    policies(namespace) {
        return namespace === this.ns ? this.fresh : this.base.policies(namespace);
    }
    pendingInjection(namespace) {
        return this.base.pendingInjection(namespace);
    }
    namespaceNames() {
        return this.base.namespaceNames();
    }
}
//# sourceMappingURL=overlay-view.js.map