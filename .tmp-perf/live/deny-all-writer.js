import { denyAllPolicy, summarizePolicy } from '../policy/coverage.js';
import { Backoff, sleep } from './backoff.js';
import { bounded, describeError, plainObject, statusCode } from './kube.js';
export class DenyAllWriter {
    clients;
    config;
    events;
    metrics;
    log;
    tuning;
    namespaces;
    signal;
    constructor(clients, config, events, metrics, log, tuning = {}, 
    /** The view's knowledge of namespaces: a 404 retry waits for the namespace to show up instead of sleeping blind. */
    namespaces, signal) {
        this.clients = clients;
        this.config = config;
        this.events = events;
        this.metrics = metrics;
        this.log = log;
        this.tuning = tuning;
        this.namespaces = namespaces;
        this.signal = signal;
    }
    async ensure(namespace, trigger) {
        const result = await this.attempt(namespace);
        if (result === 'failed' && this.signal?.aborted) {
            this.log.info({ namespace }, 'shutting down before the deny-all NetworkPolicy was created');
            return result;
        }
        this.metrics.injections.inc({ result });
        const name = this.config.policyName;
        const log = this.log.child({ namespace, policy: name, trigger, result });
        switch (result) {
            case 'created':
                log.info('created deny-all NetworkPolicy');
                this.events.namespaceEvent(namespace, 'Normal', 'DenyAllInjected', `netpol-guard created NetworkPolicy ${namespace}/${name} denying all ingress and egress; add NetworkPolicies that allow what the workloads need`);
                break;
            case 'exists':
                log.debug('deny-all NetworkPolicy already present');
                break;
            case 'conflict':
                log.warn('a NetworkPolicy with the deny-all name exists but does not deny all traffic; left untouched');
                this.events.namespaceEvent(namespace, 'Warning', 'DenyAllNameConflict', `NetworkPolicy ${namespace}/${name} exists but does not deny all ingress and egress; netpol-guard does not modify policies it did not create. Rename it or add a deny-all policy under another name`);
                break;
            case 'namespace_missing':
            case 'namespace_terminating':
                log.info('namespace gone or going; nothing to inject');
                break;
            case 'failed':
                log.error('could not create deny-all NetworkPolicy');
                this.events.namespaceEvent(namespace, 'Warning', 'DenyAllInjectionFailed', `netpol-guard could not create NetworkPolicy ${namespace}/${name}; it retries when the namespace changes or at the next resync`);
                break;
        }
        return result;
    }
    async attempt(namespace) {
        const boundMs = this.tuning.boundMs ?? 30_000;
        const reqTimeout = this.tuning.requestTimeoutMs ?? 5000;
        const deadline = Date.now() + boundMs;
        const backoff = new Backoff({ initialMs: this.tuning.backoffInitialMs ?? 100, maxMs: this.tuning.backoffMaxMs ?? 2000 });
        const body = denyAllPolicy(namespace, this.config.policyName);
        for (;;) {
            if (this.signal?.aborted)
                return 'failed';
            let code;
            let why;
            try {
                await bounded(reqTimeout, (o) => this.clients.networking.createNamespacedNetworkPolicy({ namespace, body }, o));
                return 'created';
            }
            catch (e) {
                code = statusCode(e);
                why = describeError(e);
            }
            if (code === 409)
                return this.checkExisting(namespace, reqTimeout);
            if (code === 403 && /being terminated/.test(why))
                return 'namespace_terminating';
            // 404: the namespace is not persisted yet (we are called from its admission); 429/5xx/network: transient.
            const retryable = code === undefined || code === 404 || code === 429 || code >= 500;
            const delay = backoff.next();
            if (!retryable || this.signal?.aborted || Date.now() + delay > deadline) {
                this.log.warn({ namespace, err: why, attempts: backoff.attempts }, 'giving up creating deny-all NetworkPolicy');
                return code === 404 ? 'namespace_missing' : 'failed';
            }
            this.log.debug({ namespace, err: why, retryInMs: delay }, 'creating deny-all NetworkPolicy failed; retrying');
            if (code === 404 && this.namespaces && !this.namespaces.known(namespace))
                await Promise.race([this.namespaces.wait(namespace, delay), sleep(delay, this.signal)]);
            else
                await sleep(delay, this.signal);
        }
    }
    /** After 409: is what holds the name a deny-all (done), or something else (a conflict to report)? */
    async checkExisting(namespace, reqTimeout) {
        try {
            const np = await bounded(reqTimeout, (o) => this.clients.networking.readNamespacedNetworkPolicy({ name: this.config.policyName, namespace }, o));
            const s = summarizePolicy(plainObject(np));
            return s.coversIngress && s.coversEgress ? 'exists' : 'conflict';
        }
        catch {
            return 'exists'; // it existed a moment ago; the reconciler judges it from the view later
        }
    }
}
//# sourceMappingURL=deny-all-writer.js.map