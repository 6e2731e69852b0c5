// Per-direction deny-all analysis of NetworkPolicies (after kubeaudit's approach: judge ingress and
// egress separately, using the policy's *effective* policyTypes).
import { isRecord } from '../k8s/types.js';
function isEmptySelector(sel) {
    if (sel === undefined || sel === null)
        return true;
    if (!isRecord(sel))
        return false;
    const s = sel;
    const labels = isRecord(s.matchLabels) ? Object.keys(s.matchLabels).length : 0;
    const exprs = Array.isArray(s.matchExpressions) ? s.matchExpressions.length : 0;
    return labels === 0 && exprs === 0;
}
function rulesOf(spec, field) {
    const v = spec[field];
    return Array.isArray(v) ? v : [];
}
/** policyTypes as the API server applies them: when absent, Ingress, plus Egress if there are egress rules. */
export function effectivePolicyTypes(np) {
    const spec = isRecord(np.spec) ? np.spec : {};
    const declared = Array.isArray(spec.policyTypes) ? spec.policyTypes.filter((t) => typeof t === 'string') : [];
    const out = new Set();
    if (declared.length > 0) {
        for (const t of declared)
            if (t === 'Ingress' || t === 'Egress')
                out.add(t);
        return out;
    }
    out.add('Ingress');
    if (rulesOf(spec, 'egress').length > 0)
        out.add('Egress');
    return out;
}
function peersOrPortsEmpty(rule, peerField) {
    // A null/absent rule entry ({}), with no peers and no ports, matches all traffic.
    if (rule === null || rule === undefined)
        return true;
    if (!isRecord(rule))
        return false;
    const peers = rule[peerField];
    const ports = rule.ports;
    const noPeers = peers === undefined || peers === null || (Array.isArray(peers) && peers.length === 0);
    const noPorts = ports === undefined || ports === null || (Array.isArray(ports) && ports.length === 0);
    return noPeers && noPorts;
}
const MANAGED_BY = 'app.kubernetes.io/managed-by';
export function summarizePolicy(np) {
    const spec = isRecord(np.spec) ? np.spec : {};
    const meta = isRecord(np.metadata) ? np.metadata : {};
    const labels = isRecord(meta.labels) ? meta.labels : {};
    const selectsAllPods = isEmptySelector(spec.podSelector);
    const types = effectivePolicyTypes(np);
    const ingress = rulesOf(spec, 'ingress');
    const egress = rulesOf(spec, 'egress');
    return {
        name: typeof meta.name === 'string' ? meta.name : '',
        selectsAllPods,
        coversIngress: selectsAllPods && types.has('Ingress') && ingress.length === 0,
        coversEgress: selectsAllPods && types.has('Egress') && egress.length === 0,
        allowAllIngress: selectsAllPods && types.has('Ingress') && ingress.some((r) => peersOrPortsEmpty(r, 'from')),
        allowAllEgress: selectsAllPods && types.has('Egress') && egress.some((r) => peersOrPortsEmpty(r, 'to')),
        managedByGuard: labels[MANAGED_BY] === 'netpol-guard',
    };
}
export function coverageOf(policies) {
    let ingress = false;
    let egress = false;
    for (const p of policies) {
        ingress ||= p.coversIngress;
        egress ||= p.coversEgress;
        if (ingress && egress)
            break;
    }
    return { ingress, egress };
}
export function isCovered(c) {
    return c.ingress && c.egress;
}
export function coverageLabel(c) {
    if (c.ingress && c.egress)
        return 'both';
    if (c.ingress)
        return 'ingress only';
    if (c.egress)
        return 'egress only';
    return 'none';
}
/** The deny-all NetworkPolicy the guard injects. */
export function denyAllPolicy(namespace, name) {
    return {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: {
            name,
            namespace,
            labels: { [MANAGED_BY]: 'netpol-guard' },
            annotations: {
                'netpol-guard.io/description': 'Denies all ingress and egress for every pod of the namespace. Add NetworkPolicies that allow what is needed.',
            },
        },
        spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    };
}
//# sourceMappingURL=coverage.js.map