// Capped exponential backoff with jitter, and an abortable sleep.
export class Backoff {
    opts;
    attempt = 0;
    constructor(opts) {
        this.opts = opts;
    }
    /** The next delay: initial * factor^n, capped, with ±20 % jitter so replicas do not retry in lockstep. */
    next() {
        const base = Math.min(this.opts.maxMs, this.opts.initialMs * (this.opts.factor ?? 2) ** this.attempt);
        this.attempt++;
        return Math.round(base * (0.8 + Math.random() * 0.4));
    }
    reset() {
        this.attempt = 0;
    }
    get attempts() {
        return this.attempt;
    }
}
/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms, signal) {
    return new Promise((resolve) => {
        if (signal?.aborted)
            return resolve();
        const t = setTimeout(done, ms);
        function done() {
            clearTimeout(t);
            signal?.removeEventListener('abort', done);
            resolve();
        }
        signal?.addEventListener('abort', done, { once: true });
    });
}
//# sourceMappingURL=backoff.js.map