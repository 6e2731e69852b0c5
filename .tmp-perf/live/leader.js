// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection: the holder renews the
// lease every renewInterval; another replica takes it over once the record has not changed for
// leaseDuration *as measured on its own clock* (so clock skew between nodes does not matter). Only the leader
// writes (reconciler), and it stops writing once it could not renew for renewDeadline.
import { V1MicroTime } from '@kubernetes/client-node';
import { Backoff, sleep } from './backoff.js';
import { bounded, describeError, statusCode } from './kube.js';
export class LeaderElector {
    api;
    opts;
    log;
    leader = false;
    lastRenew = 0;
    observedKey = '';
    observedAt = 0;
    abort = new AbortController();
    loopDone;
    listeners = [];
    durationS;
    renewMs;
    retryMs;
    renewDeadlineMs;
    clock;
    constructor(api, opts, log) {
        this.api = api;
        this.opts = opts;
        this.log = log;
        this.durationS = Math.max(1, Math.round(opts.leaseDurationSeconds ?? 15));
        this.renewMs = opts.renewIntervalMs ?? 5000;
        this.retryMs = opts.retryIntervalMs ?? 2000;
        // Stop acting as leader a bit before others may take over.
        this.renewDeadlineMs = Math.max(this.renewMs, (this.durationS * 1000 * 2) / 3);
        this.clock = opts.clock ?? Date.now;
    }
    /** True while this replica holds a lease it renewed recently enough. */
    isLeader() {
        return this.leader && this.clock() - this.lastRenew < this.renewDeadlineMs;
    }
    onChange(cb) {
        this.listeners.push(cb);
    }
    start() {
        this.loopDone ??= this.loop();
    }
    async stop() {
        this.abort.abort();
        await this.loopDone;
        if (this.leader && this.opts.releaseOnStop !== false)
            await this.release();
        this.setLeader(false);
    }
    setLeader(v) {
        if (v === this.leader)
            return;
        this.leader = v;
        this.log.info({ identity: this.opts.identity, lease: `${this.opts.namespace}/${this.opts.leaseName}` }, v ? 'became leader' : 'lost leadership');
        for (const cb of this.listeners)
            cb(v);
    }
    async loop() {
        const backoff = new Backoff({ initialMs: this.retryMs, maxMs: Math.max(this.retryMs, 10_000) });
        while (!this.abort.signal.aborted) {
            let ok = false;
            try {
                ok = await this.tryAcquireOrRenew();
            }
            catch (e) {
                this.log.warn({ err: describeError(e) }, 'leader election: lease request failed');
            }
            if (this.abort.signal.aborted)
                break;
            if (ok) {
                this.lastRenew = this.clock();
                backoff.reset();
                this.setLeader(true);
            }
            else if (this.leader && this.clock() - this.lastRenew >= this.renewDeadlineMs) {
                this.setLeader(false);
            }
            await sleep(this.leader ? this.renewMs : ok ? this.retryMs : Math.min(backoff.next(), this.retryMs * 4), this.abort.signal);
        }
    }
    timeout() {
        return this.opts.requestTimeoutMs ?? Math.min(5000, Math.max(500, this.renewMs));
    }
    /** One round: read the lease; create it, renew it, take it over when expired, or leave it. True when held. */
    async tryAcquireOrRenew() {
        const { namespace, leaseName: name, identity } = this.opts;
        const now = this.clock();
        let lease;
        try {
            lease = await bounded(this.timeout(), (o) => this.api.readNamespacedLease({ name, namespace }, o));
        }
        catch (e) {
            if (statusCode(e) !== 404)
                throw e;
            try {
                await bounded(this.timeout(), (o) => this.api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: this.spec(now, 0, undefined) } }, o));
                return true;
            }
            catch (e2) {
                if (statusCode(e2) === 409)
                    return false; // someone else created it first
                throw e2;
            }
        }
        const spec = lease.spec ?? {};
        const holder = spec.holderIdentity ?? '';
        const recordKey = `${holder}|${String(spec.renewTime ?? '')}|${lease.metadata?.resourceVersion ?? ''}`;
        if (recordKey !== this.observedKey) {
            this.observedKey = recordKey;
            this.observedAt = now;
        }
        const durationMs = (spec.leaseDurationSeconds ?? this.durationS) * 1000;
        if (holder && holder !== identity && now < this.observedAt + durationMs)
            return false;
        const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
        const body = {
            ...lease,
            spec: this.spec(now, transitions, holder === identity ? spec.acquireTime : undefined),
        };
        try {
            await bounded(this.timeout(), (o) => this.api.replaceNamespacedLease({ name, namespace, body }, o));
            return true;
        }
        catch (e) {
            if (statusCode(e) === 409)
                return false; // lost the race to another replica
            throw e;
        }
    }
    spec(now, transitions, acquireTime) {
        return {
            holderIdentity: this.opts.identity,
            leaseDurationSeconds: this.durationS,
            acquireTime: acquireTime ?? new V1MicroTime(now),
            renewTime: new V1MicroTime(now),
            leaseTransitions: transitions,
        };
    }
    /** Gives the lease up (empty holder, 1 s duration) so a follower need not wait for it to expire. */
    async release() {
        const { namespace, leaseName: name, identity } = this.opts;
        try {
            const lease = await bounded(this.timeout(), (o) => this.api.readNamespacedLease({ name, namespace }, o));
            if (lease.spec?.holderIdentity !== identity)
                return;
            const body = {
                ...lease,
                spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(this.clock()) },
            };
            await bounded(this.timeout(), (o) => this.api.replaceNamespacedLease({ name, namespace, body }, o));
            this.log.info({ identity }, 'released leader lease');
        }
        catch (e) {
            this.log.warn({ err: describeError(e) }, 'could not release leader lease; it expires on its own');
        }
    }
}
//# sourceMappingURL=leader.js.map