import { MemoryView, namespaceInfo } from '../view/memory-view.js';
import { bounded, plainObject } from './kube.js';
import { Reflector } from './reflector.js';
export class LiveView {
    config;
    log;
    metrics;
    view = new MemoryView();
    namespaces;
    policies;
    listeners = [];
    nsWaiters = new Map();
    gaugeTimer;
    clock;
    constructor(clients, config, log, metrics, tuning = {}, clock = Date.now) {
        this.config = config;
        this.log = log;
        this.metrics = metrics;
        this.clock = clock;
        const listTimeout = tuning.listTimeoutMs ?? 60_000;
        // Re-establish idle watches well within the staleness bound, so a quiet but healthy cluster stays ready.
        const watchTimeoutSeconds = tuning.watchTimeoutSeconds ?? Math.max(1, Math.min(300, Math.floor(config.staleAfterSeconds / 3)));
        const common = { watch: clients.watch, logger: log, watchTimeoutSeconds, backoffInitialMs: tuning.backoffInitialMs, backoffMaxMs: tuning.backoffMaxMs, clock };
        this.namespaces = new Reflector({
            ...common,
            resource: 'namespaces',
            watchPath: '/api/v1/namespaces',
            list: async () => {
                const l = await bounded(listTimeout, (o) => clients.core.listNamespace({}, o));
                return { items: plainObject(l.items), resourceVersion: l.metadata?.resourceVersion ?? '' };
            },
            replace: (items) => {
                this.view.replaceNamespaces(items);
                for (const n of this.view.namespaceNames())
                    this.wakeNamespace(n);
                this.emit({ kind: 'relist', resource: 'namespaces' });
            },
            apply: (type, obj) => this.applyNamespace(type, obj),
            onRestart: () => metrics.watchRestarts.inc({ resource: 'namespaces' }),
        });
        this.policies = new Reflector({
            ...common,
            resource: 'networkpolicies',
            watchPath: '/apis/networking.k8s.io/v1/networkpolicies',
            list: async () => {
                const l = await bounded(listTimeout, (o) => clients.networking.listNetworkPolicyForAllNamespaces({}, o));
                return { items: plainObject(l.items), resourceVersion: l.metadata?.resourceVersion ?? '' };
            },
            replace: (items) => {
                this.view.replacePolicies(items.flatMap((np) => (np.metadata?.namespace ? [{ namespace: np.metadata.namespace, policy: np }] : [])));
                this.emit({ kind: 'relist', resource: 'networkpolicies' });
            },
            apply: (type, obj) => this.applyPolicy(type, obj),
            onRestart: () => metrics.watchRestarts.inc({ resource: 'networkpolicies' }),
        });
        this.gaugeTimer = setInterval(() => this.ready(), 1000);
        this.gaugeTimer.unref();
    }
    start() {
        this.namespaces.start();
        this.policies.start();
    }
    async stop() {
        clearInterval(this.gaugeTimer);
        await Promise.all([this.namespaces.stop(), this.policies.stop()]);
        for (const set of this.nsWaiters.values())
            for (const w of set)
                w();
        this.nsWaiters.clear();
    }
    onEvent(cb) {
        this.listeners.push(cb);
    }
    synced() {
        return this.namespaces.hasSynced() && this.policies.hasSynced();
    }
    ready() {
        const ok = this.synced() && this.staleForMs() <= this.config.staleAfterSeconds * 1000;
        this.metrics.viewReady.set(ok ? 1 : 0);
        return ok;
    }
    reason() {
        if (!this.namespaces.hasSynced())
            return 'waiting for the initial list of Namespaces';
        if (!this.policies.hasSynced())
            return 'waiting for the initial list of NetworkPolicies';
        const stale = this.staleForMs();
        if (stale > this.config.staleAfterSeconds * 1000)
            return `cluster view is stale: no list or watch activity for ${Math.round(stale / 1000)} s (limit ${this.config.staleAfterSeconds} s)`;
        return 'ready';
    }
    /** Resolves when the namespace is in the view, or after timeoutMs (the injector waits on this between 404s). */
    waitForNamespace(name, timeoutMs) {
        if (this.view.namespace(name))
            return Promise.resolve();
        return new Promise((resolve) => {
            let set = this.nsWaiters.get(name);
            if (!set)
                this.nsWaiters.set(name, (set = new Set()));
            const done = () => {
                clearTimeout(t);
                set.delete(done);
                if (set.size === 0 && this.nsWaiters.get(name) === set)
                    this.nsWaiters.delete(name);
                resolve();
            };
            const t = setTimeout(done, timeoutMs);
            set.add(done);
        });
    }
    staleForMs() {
        return this.clock() - Math.min(this.namespaces.lastActivityAt(), this.policies.lastActivityAt());
    }
    wakeNamespace(name) {
        const set = this.nsWaiters.get(name);
        if (set)
            for (const w of [...set])
                w();
    }
    emit(e) {
        for (const cb of this.listeners) {
            try {
                cb(e);
            }
            catch (err) {
                this.log.error({ err: err.message }, 'view listener failed');
            }
        }
    }
    applyNamespace(type, ns) {
        const info = namespaceInfo(ns);
        if (!info)
            return;
        if (type === 'DELETED')
            this.view.deleteNamespace(info.name);
        else {
            this.view.upsertNamespace(info);
            this.wakeNamespace(info.name);
        }
        this.emit({ kind: 'namespace', type, name: info.name });
    }
    applyPolicy(type, np) {
        const ns = np.metadata?.namespace;
        const name = np.metadata?.name;
        if (!ns || !name)
            return;
        if (type === 'DELETED')
            this.view.deletePolicy(ns, name);
        else
            this.view.upsertPolicy(ns, np);
        this.emit({ kind: 'policy', type, namespace: ns, name });
    }
}
//# sourceMappingURL=live-view.js.map