// require-deny-all: no Pod or pod controller is created in a namespace without deny-all coverage.
import { isExemptNamespace } from '../config.js';
import { metaString } from '../k8s/types.js';
import { findResource, POD_WORKLOADS } from '../policy/kinds.js';
import { describeObject, finding, isSubresource, missingDirections, namespaceCoverage } from './rule.js';
export const requireDenyAll = {
    id: 'require-deny-all',
    evaluate({ request, view, config, now }) {
        if (request.operation !== 'CREATE' || isSubresource(request))
            return undefined;
        if (!findResource(POD_WORKLOADS, request.resource))
            return undefined;
        const ns = request.namespace || metaString(request.object, 'namespace');
        if (!ns)
            return undefined;
        const info = view.namespace(ns);
        if (isExemptNamespace(ns, info?.labels, config))
            return undefined;
        // Creation in a terminating namespace fails in the API server anyway.
        if (info?.terminating)
            return undefined;
        const cov = namespaceCoverage(view, ns, config, now);
        if (cov.ingress && cov.egress)
            return undefined;
        const exposure = !cov.ingress && !cov.egress
            ? 'could receive traffic from, and send traffic to, anywhere'
            : !cov.ingress
                ? 'could receive traffic from anywhere'
                : 'could send traffic anywhere';
        return finding('require-deny-all', `${describeObject(request)} is refused: namespace ${ns} has no deny-all NetworkPolicy covering ` +
            `${missingDirections(cov)}, so its pods ${exposure}. ` +
            `Create one first (podSelector: {}, policyTypes: [Ingress, Egress], no rules; e.g. ` +
            `"kubectl -n ${ns} apply -f deny-all.yaml"), then add NetworkPolicies that allow only what the workload needs.`);
    },
};
//# sourceMappingURL=require-deny-all.js.map