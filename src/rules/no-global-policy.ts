// no-global-policy: cluster-wide network policies (Calico, Cilium, AdminNetworkPolicy, Antrea) are refused.
import { findResource } from '../policy/kinds.js'
import { describeObject, finding, type Rule } from './rule.js'

export const noGlobalPolicy: Rule = {
  id: 'no-global-policy',
  evaluate({ request, config }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined
    const ref = findResource(config.clusterWideKinds, request.resource)
    if (!ref) return undefined
    const what = describeObject(request, config.clusterWideKinds)
    return finding(
      'no-global-policy',
      `${what} (${ref.group}) is refused: cluster-wide network policies are not allowed in this cluster, ` +
        `they apply to every namespace and open paths that namespace owners cannot see. ` +
        `Write a namespaced NetworkPolicy (networking.k8s.io/v1) in each namespace that needs this traffic instead.`,
    )
  },
}
