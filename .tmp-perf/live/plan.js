// What the reconciler should do about one namespace: a pure function of the view's facts and the config.
import { isExemptNamespace } from '../config.js';
import { LABEL_MODE } from '../k8s/types.js';
import { coverageOf } from '../policy/coverage.js';
export function namespaceDryRun(info, config) {
    return config.mode === 'dry-run' || info.labels[LABEL_MODE] === 'dry-run';
}
export function planNamespace(info, policies, config) {
    if (!info)
        return { action: 'none', why: 'unknown' };
    if (isExemptNamespace(info.name, info.labels, config))
        return { action: 'none', why: 'exempt' };
    if (info.terminating)
        return { action: 'none', why: 'terminating' };
    const coverage = coverageOf(policies);
    if (coverage.ingress && coverage.egress)
        return { action: 'none', why: 'covered' };
    if (namespaceDryRun(info, config))
        return { action: 'report', why: 'dry-run', coverage };
    // The name is taken by a policy that does not give coverage: never overwrite it, say so.
    if (policies.some((p) => p.name === config.policyName))
        return { action: 'report', why: 'name-conflict', coverage };
    return { action: 'inject', coverage };
}
export function isNoncompliant(plan) {
    return plan.action !== 'none';
}
//# sourceMappingURL=plan.js.map