// require-deny-all: no Pod or pod controller is created in a namespace without deny-all coverage.
import { isExemptNamespace } from '../config.js'
import { findResource, POD_WORKLOADS } from '../policy/kinds.js'
import { describeObject, finding, isSubresource, missingDirections, namespaceCoverage, oneLine, requestNamespace, type Rule } from './rule.js'

export const requireDenyAll: Rule = {
  id: 'require-deny-all',
  evaluate({ request, view, config, now }) {
    if (request.operation !== 'CREATE' || isSubresource(request)) return undefined
    if (!findResource(POD_WORKLOADS, request.resource)) return undefined
    const ns = requestNamespace(request)
    if (!ns) return undefined
    const state = view.namespaceState(ns)
    if (isExemptNamespace(ns, state?.labels, config)) return undefined
    // Creation in a terminating namespace fails in the API server anyway.
    if (state?.terminating) return undefined
    const cov = namespaceCoverage(view, ns, config, now)
    if (cov.ingress && cov.egress) return undefined
    return finding(
      'require-deny-all',
      `${describeObject(request)} is refused: namespace ${oneLine(ns)} has no deny-all NetworkPolicy for ${missingDirections(cov)}. ` +
        `Create one first (podSelector: {}, policyTypes: [Ingress, Egress], no rules), then allow what the workload needs.`,
    )
  },
}
