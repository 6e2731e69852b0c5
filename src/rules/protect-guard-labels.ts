// protect-guard-labels: only privileged users may set, change or remove netpol-guard.io/ labels on a
// Namespace, since they switch the guard off (exempt) or to dry-run for that namespace.
import { guardLabelsOf, LABEL_DENY_ALL, LABEL_DENY_ALL_INJECTED } from '../k8s/types.js'
import { NAMESPACES, sameResource } from '../policy/kinds.js'
import { describeObject, finding, isPrivileged, isSubresource, oneLine, type Rule } from './rule.js'

function guardLabels(obj: unknown): Map<string, string> {
  return new Map(Object.entries(guardLabelsOf(obj)))
}

export const protectGuardLabels: Rule = {
  id: 'protect-guard-labels',
  evaluate({ request, config }) {
    if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined
    if (!sameResource(request.resource, NAMESPACES) || isSubresource(request)) return undefined
    const after = guardLabels(request.object)
    const before = request.operation === 'UPDATE' ? guardLabels(request.oldObject) : new Map<string, string>()
    // The guard's own mutation on CREATE.
    if (request.operation === 'CREATE' && after.get(LABEL_DENY_ALL) === LABEL_DENY_ALL_INJECTED) after.delete(LABEL_DENY_ALL)
    const changed: string[] = []
    for (const [k, v] of after) if (before.get(k) !== v) changed.push(before.has(k) ? `change ${k}` : `set ${k}=${v}`)
    for (const k of before.keys()) if (!after.has(k)) changed.push(`remove ${k}`)
    if (changed.length === 0 || isPrivileged(request, config)) return undefined
    const user = oneLine(request.userInfo?.username || 'this user')
    return finding(
      'protect-guard-labels',
      `${describeObject(request)} is refused: ${user} may not ${oneLine(changed.join(', '))}; netpol-guard.io/ labels ` +
        `exempt a namespace or switch its mode. Leave them as they are, or ask the platform team.`,
    )
  },
}
