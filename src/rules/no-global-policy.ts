// no-global-policy: cluster-wide network policies (Calico, Cilium, AdminNetworkPolicy, Antrea) are refused.
import { isRecord, metaString } from '../k8s/types.js'
import { findResource } from '../policy/kinds.js'
import { describeObject, finding, isSubresource, type Rule } from './rule.js'

export const noGlobalPolicy: Rule = {
  id: 'no-global-policy',
  evaluate({ request, config }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined
    // Status and other subresources are written by the policy controllers, not by people.
    if (!isRecord(request.resource) || isSubresource(request)) return undefined
    const ref = findResource(config.clusterWideKinds, request.resource)
    if (!ref) return undefined
    // DELETE is always allowed, and so is the UPDATE that finishes one (a finalizer being removed
    // from an object that is already being deleted).
    if (request.operation === 'UPDATE' && (metaString(request.oldObject, 'deletionTimestamp') || metaString(request.object, 'deletionTimestamp')))
      return undefined
    const what = describeObject(request, config.clusterWideKinds)
    return finding(
      'no-global-policy',
      `${what} (${ref.group}) is refused: cluster-wide policies are not allowed, they open paths nobody sees. ` +
        `Use a namespaced NetworkPolicy where the traffic is needed.`,
    )
  },
}
