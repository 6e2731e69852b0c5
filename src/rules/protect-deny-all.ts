// protect-deny-all: a NetworkPolicy DELETE or UPDATE may not take its namespace from covered to uncovered.
import { isExemptNamespace } from '../config.js'
import { isRecord, metaString, type NetworkPolicy } from '../k8s/types.js'
import { coverageOf, isCovered, summarizePolicy, type Coverage, type PolicySummary } from '../policy/coverage.js'
import { NETWORK_POLICIES, sameResource } from '../policy/kinds.js'
import { describeObject, finding, isSubresource, missingDirections, oneLine, type Rule } from './rule.js'

// The namespace controller deletes everything in a namespace being deleted; never stand in its way.
const NAMESPACE_CONTROLLER = 'system:serviceaccount:kube-system:namespace-controller'

export const protectDenyAll: Rule = {
  id: 'protect-deny-all',
  evaluate({ request, view, config }) {
    if (request.operation !== 'DELETE' && request.operation !== 'UPDATE') return undefined
    if (!sameResource(request.resource, NETWORK_POLICIES) || isSubresource(request)) return undefined
    const ns = request.namespace
    const name = request.name || metaString(request.oldObject, 'name') || metaString(request.object, 'name')
    if (!ns || !name) return undefined
    const info = view.namespace(ns)
    if (isExemptNamespace(ns, info?.labels, config)) return undefined
    if (info?.terminating || request.userInfo?.username === NAMESPACE_CONTROLLER) return undefined

    const others = view.policies(ns).filter((p) => p.name !== name)
    const known = view.policies(ns).find((p) => p.name === name)
    const old: PolicySummary | undefined = isRecord(request.oldObject)
      ? { ...summarizePolicy(request.oldObject as NetworkPolicy), name }
      : known
    // The contract protects the transition from covered (both directions) to not covered. A namespace
    // that was not fully covered before the change is require-deny-all's and the reconciler's business.
    const before = coverageOf(old ? [...others, old] : others)
    if (!isCovered(before)) return undefined

    let after: Coverage
    if (request.operation === 'DELETE') {
      after = coverageOf(others)
    } else {
      if (!isRecord(request.object)) return undefined
      after = coverageOf([...others, { ...summarizePolicy(request.object as NetworkPolicy), name }])
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
