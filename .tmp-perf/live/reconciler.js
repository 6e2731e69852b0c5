import { coverageLabel, coverageOf } from '../policy/coverage.js';
import { isNoncompliant, planNamespace } from './plan.js';
import { KeyedQueue } from './work-queue.js';
export class Reconciler {
    live;
    writer;
    leader;
    config;
    events;
    metrics;
    log;
    tuning;
    queue;
    fromAdmission = new Set();
    noncompliant = new Set();
    /** Namespace → what was last reported about it, so reports (log, Event) are not repeated every pass. */
    reported = new Map();
    resyncTimer;
    constructor(live, writer, leader, config, events, metrics, log, tuning = {}) {
        this.live = live;
        this.writer = writer;
        this.leader = leader;
        this.config = config;
        this.events = events;
        this.metrics = metrics;
        this.log = log;
        this.tuning = tuning;
        this.queue = new KeyedQueue(tuning.concurrency ?? 8, (ns) => this.work(ns));
    }
    start() {
        this.live.onEvent((e) => this.onViewEvent(e));
        this.resyncTimer = setInterval(() => this.reconcileAll(), this.tuning.resyncIntervalMs ?? 60_000);
        this.resyncTimer.unref();
    }
    stop() {
        clearInterval(this.resyncTimer);
        this.queue.stop();
        return this.queue.idle();
    }
    /** Admission path: the namespace was just admitted with the injection label; create its policy now. */
    requestInjection(namespace) {
        this.fromAdmission.add(namespace);
        this.queue.add(namespace);
    }
    /** Leader: queue every namespace that needs action; everyone: recompute the non-compliance gauge. */
    reconcileAll() {
        if (!this.live.synced())
            return;
        for (const ns of [...this.noncompliant])
            if (!this.live.view.namespace(ns))
                this.forget(ns);
        for (const ns of this.live.view.namespaceNames()) {
            const plan = this.refresh(ns);
            if (this.leader.isLeader() && isNoncompliant(plan))
                this.queue.add(ns);
        }
    }
    /** Resolves once no write is queued or running (tests, shutdown). */
    idle() {
        return this.queue.idle();
    }
    onViewEvent(e) {
        if (e.kind === 'relist') {
            this.reconcileAll();
            return;
        }
        const ns = e.kind === 'namespace' ? e.name : e.namespace;
        if (e.kind === 'namespace' && e.type === 'DELETED') {
            this.forget(ns);
            return;
        }
        const plan = this.refresh(ns);
        if (this.live.synced() && this.leader.isLeader() && isNoncompliant(plan))
            this.queue.add(ns);
    }
    forget(ns) {
        this.noncompliant.delete(ns);
        this.reported.delete(ns);
        this.metrics.noncompliant.set(this.noncompliant.size);
    }
    plan(ns) {
        return planNamespace(this.live.view.namespace(ns), this.live.view.policies(ns), this.config);
    }
    /** Updates the non-compliance bookkeeping of one namespace from the view; returns its plan. */
    refresh(ns) {
        const plan = this.plan(ns);
        if (isNoncompliant(plan))
            this.noncompliant.add(ns);
        else {
            this.noncompliant.delete(ns);
            this.reported.delete(ns);
        }
        this.metrics.noncompliant.set(this.noncompliant.size);
        return plan;
    }
    async work(ns) {
        if (this.fromAdmission.delete(ns)) {
            // The namespace may not be in the view yet (its CREATE was just admitted): act unless the view already
            // shows it covered or going away.
            const info = this.live.view.namespace(ns);
            const cov = coverageOf(this.live.view.policies(ns));
            if ((cov.ingress && cov.egress) || info?.terminating)
                return;
            await this.writer.ensure(ns, 'admission');
            return;
        }
        if (!this.leader.isLeader() || !this.live.synced())
            return;
        const plan = this.plan(ns);
        if (plan.action === 'inject') {
            const result = await this.writer.ensure(ns, 'reconcile');
            if (result === 'conflict')
                this.reported.set(ns, 'name-conflict');
            return;
        }
        if (plan.action !== 'report' || this.reported.get(ns) === plan.why)
            return;
        this.reported.set(ns, plan.why);
        const what = `namespace ${ns} has deny-all coverage "${coverageLabel(plan.coverage)}"`;
        if (plan.why === 'dry-run') {
            this.log.warn({ namespace: ns, coverage: coverageLabel(plan.coverage), dryRun: true }, `netpol-guard dry-run: would create NetworkPolicy ${ns}/${this.config.policyName}: ${what}`);
            this.events.namespaceEvent(ns, 'Warning', 'NonCompliant', `${what}; netpol-guard (dry-run) would create NetworkPolicy ${this.config.policyName} denying all ingress and egress`);
        }
        else {
            this.log.warn({ namespace: ns, policy: this.config.policyName }, `${what}; NetworkPolicy ${this.config.policyName} exists but does not deny all traffic, left untouched`);
            this.events.namespaceEvent(ns, 'Warning', 'DenyAllNameConflict', `${what}; NetworkPolicy ${ns}/${this.config.policyName} exists but does not deny all ingress and egress, and netpol-guard does not modify policies it did not create`);
        }
    }
}
//# sourceMappingURL=reconciler.js.map