// A keyed work queue with bounded concurrency: a key queued while already queued or running is not run twice
// at once (a key re-queued while running runs once more afterwards), so the injector and the reconciler can
// ask for the same namespace without racing each other.
export class KeyedQueue {
    concurrency;
    work;
    waiting = [];
    queued = new Set();
    running = new Set();
    again = new Set();
    idleWaiters = [];
    stopped = false;
    constructor(concurrency, work) {
        this.concurrency = concurrency;
        this.work = work;
    }
    add(key) {
        if (this.stopped)
            return;
        if (this.running.has(key)) {
            this.again.add(key);
            return;
        }
        if (this.queued.has(key))
            return;
        this.queued.add(key);
        this.waiting.push(key);
        this.pump();
    }
    get size() {
        return this.waiting.length + this.running.size;
    }
    /** Resolves once nothing is queued or running. */
    idle() {
        if (this.size === 0)
            return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }
    stop() {
        this.stopped = true;
        this.waiting.length = 0;
        this.queued.clear();
        this.again.clear();
    }
    pump() {
        while (!this.stopped && this.running.size < this.concurrency && this.waiting.length > 0) {
            const key = this.waiting.shift();
            this.queued.delete(key);
            this.running.add(key);
            void this.work(key)
                .catch(() => undefined) // work functions report their own errors
                .finally(() => {
                this.running.delete(key);
                if (this.again.delete(key))
                    this.add(key);
                this.pump();
                if (this.size === 0) {
                    const waiters = this.idleWaiters;
                    this.idleWaiters = [];
                    for (const w of waiters)
                        w();
                }
            });
        }
    }
}
//# sourceMappingURL=work-queue.js.map