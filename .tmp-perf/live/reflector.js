import { Backoff, sleep } from './backoff.js';
import { describeError, statusCode } from './kube.js';
export class Reflector {
    opts;
    synced = false;
    lastActivity = 0;
    abort = new AbortController();
    abortWatch;
    done;
    clock;
    backoff;
    constructor(opts) {
        this.opts = opts;
        this.clock = opts.clock ?? Date.now;
        this.backoff = new Backoff({ initialMs: opts.backoffInitialMs ?? 200, maxMs: opts.backoffMaxMs ?? 30_000 });
    }
    /** The initial list is in. */
    hasSynced() {
        return this.synced;
    }
    /** ms timestamp of the last successful list, watch event/bookmark or established watch. */
    lastActivityAt() {
        return this.lastActivity;
    }
    start() {
        this.done ??= this.run();
    }
    async stop() {
        this.abort.abort();
        this.abortWatch?.();
        await this.done;
    }
    touch() {
        this.lastActivity = this.clock();
    }
    async run() {
        const log = this.opts.logger;
        let rv;
        while (!this.abort.signal.aborted) {
            if (rv === undefined) {
                try {
                    const { items, resourceVersion } = await this.opts.list();
                    if (this.abort.signal.aborted)
                        return;
                    this.opts.replace(items);
                    rv = resourceVersion;
                    this.synced = true;
                    this.touch();
                    log.debug({ resource: this.opts.resource, count: items.length, resourceVersion }, 'listed');
                }
                catch (e) {
                    const delay = this.backoff.next();
                    log.warn({ resource: this.opts.resource, err: describeError(e), retryInMs: delay }, 'list failed');
                    await sleep(delay, this.abort.signal);
                    continue;
                }
            }
            const started = this.clock();
            const out = await this.watchOnce(rv);
            if (this.abort.signal.aborted)
                return;
            rv = out.resourceVersion;
            this.opts.onRestart?.();
            if (out.expired) {
                // Our resourceVersion was compacted away: the only way back is a fresh list.
                log.info({ resource: this.opts.resource }, 'watch expired (410 Gone); relisting');
                rv = undefined;
                continue;
            }
            const healthy = out.error === undefined && (out.events > 0 || this.clock() - started >= 1000);
            if (healthy) {
                this.backoff.reset();
                log.debug({ resource: this.opts.resource, resourceVersion: rv }, 'watch closed; resuming');
                continue;
            }
            const delay = this.backoff.next();
            log.warn({ resource: this.opts.resource, err: out.error === undefined ? 'closed immediately' : describeError(out.error), retryInMs: delay }, 'watch failed; reconnecting');
            await sleep(delay, this.abort.signal);
        }
    }
    watchOnce(rv) {
        const timeoutS = this.opts.watchTimeoutSeconds ?? 300;
        // A connection that says nothing for this long is presumed dead (half-open TCP, stuck proxy).
        const idleLimitMs = timeoutS * 1000 + Math.max(5000, timeoutS * 500);
        return new Promise((resolve) => {
            let lastRv = rv;
            let events = 0;
            let expired = false;
            let finished = false;
            let controller;
            let lastHeard = this.clock();
            const finish = (error) => {
                if (finished)
                    return;
                finished = true;
                clearInterval(watchdog);
                this.abortWatch = undefined;
                controller?.abort();
                resolve({ resourceVersion: lastRv, expired, error: error ?? undefined, events });
            };
            const watchdog = setInterval(() => {
                if (this.clock() - lastHeard > idleLimitMs)
                    finish(new Error(`watch silent for ${idleLimitMs} ms`));
            }, Math.min(5000, idleLimitMs / 2));
            watchdog.unref();
            this.abortWatch = () => finish();
            const onEvent = (type, obj) => {
                if (finished)
                    return;
                lastHeard = this.clock();
                this.touch();
                const o = (obj ?? {});
                if (type === 'ERROR') {
                    if (o.code === 410)
                        expired = true;
                    finish(expired ? undefined : new Error(`watch ERROR event: ${String(o.message ?? JSON.stringify(o))}`));
                    return;
                }
                const objRv = o.metadata?.resourceVersion;
                if (type === 'BOOKMARK') {
                    if (objRv)
                        lastRv = objRv;
                    return;
                }
                if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED')
                    return;
                try {
                    this.opts.apply(type, o);
                }
                catch (e) {
                    this.opts.logger.error({ resource: this.opts.resource, err: e.message }, 'applying a watch event failed');
                }
                events++;
                if (objRv)
                    lastRv = objRv;
            };
            const onDone = (err) => {
                if (statusCode(err) === 410)
                    expired = true;
                finish(expired ? undefined : err ?? undefined);
            };
            this.opts.watch
                .watch(this.opts.watchPath, { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: timeoutS }, onEvent, onDone)
                .then((c) => {
                controller = c;
                if (finished)
                    c.abort();
                else {
                    lastHeard = this.clock();
                    this.touch(); // the watch is established: the API server is there and answering
                }
            }, (e) => finish(e));
        });
    }
}
//# sourceMappingURL=reflector.js.map