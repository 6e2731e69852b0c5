import { bounded, describeError } from './kube.js';
const MAX_QUEUED = 1000;
const CONCURRENCY = 4;
export class EventRecorder {
    core;
    identity;
    log;
    clock;
    eventNamespace;
    queue = [];
    inFlight = 0;
    idleWaiters = [];
    dropped = 0;
    constructor(core, identity, log, clock = Date.now, eventNamespace = 'default') {
        this.core = core;
        this.identity = identity;
        this.log = log;
        this.clock = clock;
        this.eventNamespace = eventNamespace;
    }
    namespaceEvent(namespace, type, reason, message) {
        if (this.queue.length >= MAX_QUEUED) {
            if (this.dropped++ % 100 === 0)
                this.log.warn({ dropped: this.dropped }, 'event queue full; dropping events');
            return;
        }
        const now = new Date(this.clock());
        this.queue.push({
            metadata: { generateName: `${namespace}.`, namespace: this.eventNamespace },
            involvedObject: { apiVersion: 'v1', kind: 'Namespace', name: namespace },
            reason,
            message: message.slice(0, 1024),
            type,
            source: { component: 'netpol-guard' },
            reportingComponent: 'netpol-guard',
            reportingInstance: this.identity,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
        });
        this.pump();
    }
    /** Resolves once every queued event was sent (or failed). */
    flush() {
        if (this.queue.length === 0 && this.inFlight === 0)
            return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }
    pump() {
        while (this.inFlight < CONCURRENCY && this.queue.length > 0) {
            const body = this.queue.shift();
            this.inFlight++;
            bounded(5000, (o) => this.core.createNamespacedEvent({ namespace: this.eventNamespace, body }, o))
                .catch((e) => this.log.debug({ err: describeError(e), reason: body.reason, namespace: body.involvedObject.name }, 'could not record event'))
                .finally(() => {
                this.inFlight--;
                this.pump();
                if (this.inFlight === 0 && this.queue.length === 0) {
                    const w = this.idleWaiters;
                    this.idleWaiters = [];
                    for (const f of w)
                        f();
                }
            });
        }
    }
}
//# sourceMappingURL=events.js.map