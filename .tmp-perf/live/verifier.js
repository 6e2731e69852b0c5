import { summarizePolicy } from '../policy/coverage.js';
import { namespaceInfo } from '../view/memory-view.js';
import { bounded, describeError, plainObject, statusCode } from './kube.js';
export class LiveVerifier {
    clients;
    config;
    constructor(clients, config) {
        this.clients = clients;
        this.config = config;
    }
    async namespacePolicies(namespace, timeoutMs) {
        const ms = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : this.config.verifyTimeoutMs;
        try {
            const [list, ns] = await bounded(ms, (o) => Promise.all([
                this.clients.networking.listNamespacedNetworkPolicy({ namespace }, o),
                // A missing namespace is an answer (not terminating), not a failure.
                this.clients.core.readNamespace({ name: namespace }, o).catch((e) => {
                    if (statusCode(e) === 404)
                        return undefined;
                    throw e;
                }),
            ]));
            const policies = plainObject(list.items).map(summarizePolicy);
            const terminating = ns ? (namespaceInfo(plainObject(ns))?.terminating ?? false) : false;
            return { ok: true, policies, terminating };
        }
        catch (e) {
            return { ok: false, reason: `could not read the NetworkPolicies of namespace ${namespace} from the API server (${describeError(e)})` };
        }
    }
}
//# sourceMappingURL=verifier.js.map