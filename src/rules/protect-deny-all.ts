// protect-deny-all: a NetworkPolicy DELETE or UPDATE may not take its namespace from covered to uncovered.
import { isExemptNamespace } from '../config.js'
import { isRecord, metaString, type NetworkPolicy } from '../k8s/types.js'
import { isCovered, summarizePolicy, type Coverage, type PolicySummary } from '../policy/coverage.js'
import { NETWORK_POLICIES, sameResource } from '../policy/kinds.js'
import { describeObject, finding, isSubresource, missingDirections, nonBlank, oneLine, type Rule } from './rule.js'

// The namespace controller deletes everything in a namespace being deleted; never stand in its way.
const NAMESPACE_CONTROLLER = 'system:serviceaccount:kube-system:namespace-controller'

function withPolicy(c: Coverage, p: PolicySummary | undefined): Coverage {
  return p ? { ingress: c.ingress || p.coversIngress, egress: c.egress || p.coversEgress } : c
}

export const protectDenyAll: Rule = {
  id: 'protect-deny-all',
  evaluate({ request, view, config }) {
    if (request.operation !== 'DELETE' && request.operation !== 'UPDATE') return undefined
    if (!sameResource(request.resource, NETWORK_POLICIES) || isSubresource(request)) return undefined
    // A blank namespace is no namespace (the apiserver never sends one): nothing to look up, nothing to name.
    const ns = nonBlank(request.namespace)
    const name = request.name || metaString(request.oldObject, 'name') || metaString(request.object, 'name')
    if (!ns || !name) return undefined
    const state = view.namespaceState(ns)
    if (isExemptNamespace(ns, state?.labels, config)) return undefined
    if (state?.terminating || request.userInfo?.username === NAMESPACE_CONTROLLER) return undefined

    // Coverage of the namespace's other policies, and the known version of this one, in one pass.
    const policies = view.policies(ns)
    const others: Coverage = { ingress: false, egress: false }
    let known: PolicySummary | undefined
    for (let i = 0; i < policies.length; i++) {
      const p = policies[i]!
      if (p.name === name) known = p
      else {
        others.ingress ||= p.coversIngress
        others.egress ||= p.coversEgress
      }
    }
    const old = isRecord(request.oldObject) ? summarizePolicy(request.oldObject as NetworkPolicy) : known
    // The contract protects the transition from covered (both directions) to not covered. A namespace
    // that was not fully covered before the change is require-deny-all's and the reconciler's business.
    if (!isCovered(withPolicy(others, old))) return undefined

    let after: Coverage
    if (request.operation === 'DELETE') {
      after = others
    } else {
      if (!isRecord(request.object)) return undefined
      after = withPolicy(others, summarizePolicy(request.object as NetworkPolicy))
    }
    if (isCovered(after)) return undefined
    const lostText = missingDirections(after)
    const verb = request.operation === 'DELETE' ? 'Deleting' : 'This change to'
    return finding(
      'protect-deny-all',
      `${verb} ${describeObject(request)} is refused: namespace ${oneLine(ns)} would lose its deny-all for ${lostText}. ` +
        `Keep it and add separate allow policies, or create another deny-all first.`,
    )
  },
}
