export const ADMISSION_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'];
const gvk = {
    type: 'object',
    required: ['group', 'version', 'kind'],
    properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } },
};
const gvr = {
    type: 'object',
    required: ['group', 'version', 'resource'],
    properties: { group: { type: 'string' }, version: { type: 'string' }, resource: { type: 'string' } },
};
/** JSON schema of the request body; what the apiserver always sends is required, the rest is typed when present. */
export const admissionReviewSchema = {
    type: 'object',
    required: ['apiVersion', 'kind', 'request'],
    properties: {
        apiVersion: { type: 'string', enum: [...ADMISSION_VERSIONS] },
        kind: { type: 'string', const: 'AdmissionReview' },
        request: {
            type: 'object',
            required: ['uid', 'kind', 'resource', 'operation'],
            properties: {
                uid: { type: 'string', minLength: 1, maxLength: 256 },
                kind: gvk,
                resource: gvr,
                subResource: { type: 'string' },
                requestKind: gvk,
                requestResource: gvr,
                requestSubResource: { type: 'string' },
                name: { type: 'string' },
                namespace: { type: 'string' },
                operation: { type: 'string', enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
                userInfo: {
                    type: 'object',
                    properties: {
                        username: { type: 'string' },
                        uid: { type: 'string' },
                        groups: { type: 'array', items: { type: 'string' } },
                    },
                },
                object: { type: ['object', 'null'] },
                oldObject: { type: ['object', 'null'] },
                dryRun: { type: 'boolean' },
            },
        },
    },
};
export function allowed(uid) {
    return { uid, allowed: true };
}
export function denied(uid, message, code = 403, reason = 'Forbidden') {
    return { uid, allowed: false, status: { metadata: {}, status: 'Failure', code, reason, message } };
}
export function patched(uid, patch) {
    return { uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') };
}
export function withWarnings(res, warnings) {
    return warnings.length ? { ...res, warnings: [...(res.warnings ?? []), ...warnings] } : res;
}
export function withAuditAnnotations(res, annotations) {
    return Object.keys(annotations).length ? { ...res, auditAnnotations: { ...res.auditAnnotations, ...annotations } } : res;
}
/** The review answered in the request's own apiVersion. */
export function reviewResponse(apiVersion, response) {
    return { apiVersion, kind: 'AdmissionReview', response };
}
/** A warning as kubectl prints it: one line, at most 256 characters. */
export function warningLine(text, max = 256) {
    const one = text.replace(/\s+/g, ' ').trim();
    return one.length <= max ? one : one.slice(0, max - 3) + '...';
}
//# sourceMappingURL=review.js.map