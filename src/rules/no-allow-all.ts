// no-allow-all: a NetworkPolicy that selects every pod and allows all traffic in a direction it
// enforces would cancel the namespace's deny-all.
import { isExemptNamespace } from '../config.js'
import { isRecord, metaString, type NetworkPolicy } from '../k8s/types.js'
import { summarizePolicy } from '../policy/coverage.js'
import { NETWORK_POLICIES, sameResource } from '../policy/kinds.js'
import { describeObject, finding, isSubresource, type Rule } from './rule.js'

export const noAllowAll: Rule = {
  id: 'no-allow-all',
  evaluate({ request, view, config }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined
    if (!sameResource(request.resource, NETWORK_POLICIES) || isSubresource(request)) return undefined
    if (!isRecord(request.object)) return undefined
    // The UPDATE that finishes a deletion (finalizer removal) must not be stuck on the policy's content.
    if (request.operation === 'UPDATE' && metaString(request.object, 'deletionTimestamp')) return undefined
    const ns = request.namespace
    if (ns && isExemptNamespace(ns, view.namespaceState(ns)?.labels, config)) return undefined
    const s = summarizePolicy(request.object as NetworkPolicy)
    if (!s.allowAllIngress && !s.allowAllEgress) return undefined
    const dirs =
      s.allowAllIngress && s.allowAllEgress
        ? 'an ingress rule without from/ports and an egress rule without to/ports allow all traffic in and out'
        : s.allowAllIngress
          ? 'an ingress rule without from/ports allows all incoming traffic'
          : 'an egress rule without to/ports allows all outgoing traffic'
    return finding(
      'no-allow-all',
      `${describeObject(request)} is refused: it selects every pod and ${dirs}, defeating deny-all. ` +
        `List only the needed peers (${s.allowAllIngress && s.allowAllEgress ? 'from/to' : s.allowAllIngress ? 'from' : 'to'}) and ports.`,
    )
  },
}
