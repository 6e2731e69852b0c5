// The slices of Kubernetes objects that netpol-guard reads. Every field is optional because
// objects arrive from outside (apiserver, files, fuzzers) and must be read defensively.
export const GUARD_LABEL_PREFIX = 'netpol-guard.io/';
export const LABEL_DENY_ALL = 'netpol-guard.io/deny-all';
export const LABEL_DENY_ALL_INJECTED = 'injected';
export const LABEL_EXEMPT = 'netpol-guard.io/exempt';
export const LABEL_MODE = 'netpol-guard.io/mode';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_GUARD = 'netpol-guard';
export function isRecord(v) {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}
/** Labels of an object as a string map; anything malformed reads as no labels. */
export function labelsOf(obj) {
    if (!isRecord(obj) || !isRecord(obj.metadata) || !isRecord(obj.metadata.labels))
        return {};
    const out = {};
    for (const [k, v] of Object.entries(obj.metadata.labels))
        if (typeof v === 'string')
            out[k] = v;
    return out;
}
export function metaString(obj, field) {
    if (!isRecord(obj) || !isRecord(obj.metadata))
        return undefined;
    const v = obj.metadata[field];
    return typeof v === 'string' && v !== '' ? v : undefined;
}
//# sourceMappingURL=types.js.map