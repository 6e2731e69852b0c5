// no-allow-all: a NetworkPolicy that selects every pod and allows all traffic in a direction it
// enforces would cancel the namespace's deny-all.
import { isExemptNamespace } from '../config.js';
import { isRecord, metaString } from '../k8s/types.js';
import { summarizePolicy } from '../policy/coverage.js';
import { NETWORK_POLICIES, sameResource } from '../policy/kinds.js';
import { describeObject, finding, isSubresource } from './rule.js';
export const noAllowAll = {
    id: 'no-allow-all',
    evaluate({ request, view, config }) {
        if (request.operation !== 'CREATE' && request.operation !== 'UPDATE')
            return undefined;
        if (!sameResource(request.resource, NETWORK_POLICIES) || isSubresource(request))
            return undefined;
        if (!isRecord(request.object))
            return undefined;
        // The UPDATE that finishes a deletion (finalizer removal) must not be stuck on the policy's content.
        if (request.operation === 'UPDATE' && metaString(request.object, 'deletionTimestamp'))
            return undefined;
        const ns = request.namespace;
        if (ns && isExemptNamespace(ns, view.namespace(ns)?.labels, config))
            return undefined;
        const s = summarizePolicy(request.object);
        if (!s.allowAllIngress && !s.allowAllEgress)
            return undefined;
        const dirs = s.allowAllIngress && s.allowAllEgress
            ? 'an ingress rule without from/ports and an egress rule without to/ports'
            : s.allowAllIngress
                ? 'an ingress rule without from and ports'
                : 'an egress rule without to and ports';
        const what = s.allowAllIngress && s.allowAllEgress ? 'all traffic in and out' : s.allowAllIngress ? 'all incoming traffic' : 'all outgoing traffic';
        return finding('no-allow-all', `${describeObject(request)} is refused: it selects every pod (empty podSelector) and has ${dirs}, ` +
            `which allows ${what} and cancels the namespace's deny-all. ` +
            `Allow only the peers and ports that are needed (set ${s.allowAllIngress && s.allowAllEgress ? 'from/to' : s.allowAllIngress ? 'from' : 'to'} and/or ports), or select only the pods that need it.`);
    },
};
//# sourceMappingURL=no-allow-all.js.map