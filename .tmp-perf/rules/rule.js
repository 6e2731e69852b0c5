import { isRecord, metaString, LABEL_DENY_ALL, LABEL_DENY_ALL_INJECTED } from '../k8s/types.js';
import { coverageOf } from '../policy/coverage.js';
import { kindOf } from '../policy/kinds.js';
export function finding(rule, text) {
    return { rule, message: `[${rule}] ${text.replace(/\s+/g, ' ').trim()}` };
}
/** "Kind namespace/name" as the developer wrote it; generateName when the name is not set yet. */
export function describeObject(req, clusterWide = []) {
    const kind = (isRecord(req.kind) && typeof req.kind.kind === 'string' && req.kind.kind) ||
        (isRecord(req.resource) ? kindOf(req.resource, clusterWide) : undefined) ||
        (isRecord(req.resource) ? req.resource.resource : 'object');
    const obj = req.object ?? req.oldObject;
    let name = req.name || metaString(obj, 'name');
    if (!name) {
        const gen = metaString(obj, 'generateName');
        name = gen ? `${gen}* (generateName)` : '(unnamed)';
    }
    const ns = req.namespace || metaString(obj, 'namespace');
    const isNamespace = req.resource?.group === '' && req.resource?.resource === 'namespaces';
    return ns && !isNamespace ? `${kind} ${ns}/${name}` : `${kind} ${name}`;
}
export function isPrivileged(req, cfg) {
    const user = req.userInfo?.username;
    if (typeof user === 'string') {
        if (cfg.privilegedUsers.includes(user))
            return true;
        if (user === `system:serviceaccount:${cfg.namespace}:${cfg.serviceAccount}`)
            return true;
    }
    const groups = Array.isArray(req.userInfo?.groups) ? req.userInfo.groups : [];
    return groups.some((g) => cfg.privilegedGroups.includes(g));
}
export function injectionPending(view, namespace, cfg, now) {
    const graceMs = cfg.injectionGraceSeconds * 1000;
    const promised = view.pendingInjection(namespace);
    if (promised !== undefined && now - promised <= graceMs)
        return true;
    const ns = view.namespace(namespace);
    if (ns && ns.labels[LABEL_DENY_ALL] === LABEL_DENY_ALL_INJECTED && ns.createdAt !== undefined) {
        return now - ns.createdAt <= graceMs && now - ns.createdAt >= -graceMs;
    }
    return false;
}
export function namespaceCoverage(view, namespace, cfg, now, policies = view.policies(namespace)) {
    const c = coverageOf(policies);
    if (c.ingress && c.egress)
        return { ...c, pending: false };
    if (injectionPending(view, namespace, cfg, now))
        return { ingress: true, egress: true, pending: true };
    return { ...c, pending: false };
}
export function missingDirections(c) {
    if (!c.ingress && !c.egress)
        return 'ingress and egress';
    return c.ingress ? 'egress' : 'ingress';
}
export function isSubresource(req) {
    return typeof req.subResource === 'string' && req.subResource !== '';
}
//# sourceMappingURL=rule.js.map