// The benchmark workload, shared by `npm run bench` and the soak test: a generated cluster state of N team
// namespaces, and a request mix shaped like what a kube-apiserver v1.32 really sends (see
// ../shared/fixtures/apiserver-v1.32: same envelopes, managedFields, last-applied annotations, options).
export const nsName = (i) => `team-${String(i).padStart(5, '0')}`;
/** Every tenth namespace has no egress deny (only an ingress deny and an allow policy): not covered. */
export const isUncovered = (i) => i % 10 === 9;
const ADMIN = { username: 'admin', uid: 'admin-uid', groups: ['system:masters', 'system:authenticated'] };
const DEVELOPER = { username: 'jane@example.com', uid: 'jane-uid', groups: ['developers', 'system:authenticated'] };
function np(namespace, name, spec, labels) {
    return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec };
}
const ALLOW_WEB_SPEC = {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }], ports: [{ port: 8080, protocol: 'TCP' }] }],
};
/** Namespaces and NetworkPolicies of a cluster of n team namespaces (a `kind: List`, as kubectl prints it). */
export function generateState(n) {
    const items = [];
    for (const ns of ['kube-system', 'netpol-guard'])
        items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } });
    for (let i = 0; i < n; i++) {
        const name = nsName(i);
        items.push({
            apiVersion: 'v1',
            kind: 'Namespace',
            metadata: { name, labels: { 'kubernetes.io/metadata.name': name, team: `t${i % 37}` }, creationTimestamp: '2025-06-01T10:00:00Z' },
        });
        if (isUncovered(i)) {
            items.push(np(name, 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }));
            items.push(np(name, 'allow-api', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ ports: [{ port: 443 }] }] }));
            continue;
        }
        items.push(np(name, 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, { 'app.kubernetes.io/managed-by': 'netpol-guard' }));
        items.push(np(name, 'allow-web', ALLOW_WEB_SPEC));
        if (i % 3 === 0)
            items.push(np(name, 'allow-dns', {
                podSelector: {},
                policyTypes: ['Egress'],
                egress: [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }], ports: [{ port: 53, protocol: 'UDP' }] }],
            }));
    }
    return { apiVersion: 'v1', kind: 'List', items };
}
const uidOf = (k, kind) => `b0000000-0000-4000-8000-${String(kind).padStart(2, '0')}${String(k).padStart(10, '0')}`;
function envelope(request) {
    return { kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1', request };
}
const gvkr = (group, version, kind, resource) => ({
    kind: { group, version, kind },
    resource: { group, version, resource },
    requestKind: { group, version, kind },
    requestResource: { group, version, resource },
});
function lastApplied(o) {
    return { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(o) + '\n' };
}
export function podCreate(uid, namespace, name) {
    return envelope({
        uid,
        ...gvkr('', 'v1', 'Pod', 'pods'),
        name,
        namespace,
        operation: 'CREATE',
        userInfo: DEVELOPER,
        object: {
            kind: 'Pod',
            apiVersion: 'v1',
            metadata: {
                name,
                namespace,
                uid: '1d63d084-356a-4656-84ef-0c1f518e2c1e',
                creationTimestamp: '2026-11-27T14:21:27Z',
                labels: { app: 'web' },
                annotations: lastApplied({ apiVersion: 'v1', kind: 'Pod', metadata: { annotations: {}, labels: { app: 'web' }, name, namespace }, spec: { containers: [{ image: 'registry.example/web:1.4.2', name: 'web' }] } }),
                managedFields: [
                    {
                        manager: 'kubectl-client-side-apply',
                        operation: 'Update',
                        apiVersion: 'v1',
                        time: '2026-11-27T14:21:27Z',
                        fieldsType: 'FieldsV1',
                        fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } }, 'f:spec': { 'f:containers': { 'k:{"name":"web"}': { '.': {}, 'f:image': {}, 'f:name': {} } } } },
                    },
                ],
            },
            spec: {
                volumes: [{ name: 'kube-api-access-mzrx4', projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: 'token' } }, { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } }], defaultMode: 420 } }],
                containers: [
                    {
                        name: 'web',
                        image: 'registry.example/web:1.4.2',
                        resources: {},
                        volumeMounts: [{ name: 'kube-api-access-mzrx4', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
                        terminationMessagePath: '/dev/termination-log',
                        terminationMessagePolicy: 'File',
                        imagePullPolicy: 'IfNotPresent',
                    },
                ],
                restartPolicy: 'Always',
                terminationGracePeriodSeconds: 30,
                dnsPolicy: 'ClusterFirst',
                serviceAccountName: 'default',
                securityContext: {},
                schedulerName: 'default-scheduler',
                tolerations: [
                    { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
                    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
                ],
                priority: 0,
                enableServiceLinks: true,
                preemptionPolicy: 'PreemptLowerPriority',
            },
            status: { phase: 'Pending', qosClass: 'BestEffort' },
        },
        oldObject: null,
        dryRun: false,
        options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply', fieldValidation: 'Strict' },
    });
}
function npObject(namespace, name, spec, generation) {
    return {
        kind: 'NetworkPolicy',
        apiVersion: 'networking.k8s.io/v1',
        metadata: {
            name,
            namespace,
            uid: 'e4b7528e-510f-4e51-907d-dbd455a548fa',
            resourceVersion: '217',
            generation,
            creationTimestamp: '2026-11-27T14:21:27Z',
            annotations: lastApplied({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { annotations: {}, name, namespace }, spec }),
            managedFields: [
                {
                    manager: 'kubectl-client-side-apply',
                    operation: 'Update',
                    apiVersion: 'networking.k8s.io/v1',
                    time: '2026-11-27T14:21:28Z',
                    fieldsType: 'FieldsV1',
                    fieldsV1: { 'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} } }, 'f:spec': { 'f:ingress': {}, 'f:podSelector': {}, 'f:policyTypes': {} } },
                },
            ],
        },
        spec,
    };
}
export function networkPolicyUpdate(uid, namespace) {
    const next = { ...ALLOW_WEB_SPEC, ingress: [{ ...ALLOW_WEB_SPEC.ingress[0], ports: [{ port: 8443, protocol: 'TCP' }] }] };
    return envelope({
        uid,
        ...gvkr('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
        name: 'allow-web',
        namespace,
        operation: 'UPDATE',
        userInfo: DEVELOPER,
        object: npObject(namespace, 'allow-web', next, 2),
        oldObject: npObject(namespace, 'allow-web', ALLOW_WEB_SPEC, 1),
        dryRun: false,
        options: { kind: 'UpdateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-client-side-apply', fieldValidation: 'Strict' },
    });
}
export function networkPolicyDelete(uid, namespace, name) {
    const spec = name === 'deny-all' ? { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } : ALLOW_WEB_SPEC;
    return envelope({
        uid,
        ...gvkr('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies'),
        name,
        namespace,
        operation: 'DELETE',
        userInfo: DEVELOPER,
        object: null,
        oldObject: npObject(namespace, name, spec, 1),
        dryRun: false,
        options: { kind: 'DeleteOptions', apiVersion: 'meta.k8s.io/v1', propagationPolicy: 'Background' },
    });
}
export function globalNetworkPolicyCreate(uid, name) {
    return envelope({
        uid,
        ...gvkr('crd.projectcalico.org', 'v1', 'GlobalNetworkPolicy', 'globalnetworkpolicies'),
        name,
        operation: 'CREATE',
        userInfo: ADMIN,
        object: {
            apiVersion: 'crd.projectcalico.org/v1',
            kind: 'GlobalNetworkPolicy',
            metadata: {
                creationTimestamp: '2026-11-27T14:21:23Z',
                generation: 1,
                managedFields: [{ apiVersion: 'crd.projectcalico.org/v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { '.': {}, 'f:egress': {}, 'f:order': {}, 'f:selector': {}, 'f:types': {} } }, manager: 'kubectl-create', operation: 'Update', time: '2026-11-27T14:21:23Z' }],
                name,
                uid: '71ea44a6-98ff-4d46-a260-12ca81f11fd8',
            },
            spec: { egress: [{ action: 'Allow', destination: { ports: [53] }, protocol: 'UDP' }], order: 100, selector: 'all()', types: ['Egress'] },
        },
        oldObject: null,
        dryRun: false,
        options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-create', fieldValidation: 'Strict' },
    });
}
export function namespaceCreate(uid, name) {
    return envelope({
        uid,
        ...gvkr('', 'v1', 'Namespace', 'namespaces'),
        name,
        namespace: name,
        operation: 'CREATE',
        userInfo: ADMIN,
        object: {
            kind: 'Namespace',
            apiVersion: 'v1',
            metadata: {
                name,
                creationTimestamp: null,
                labels: { 'kubernetes.io/metadata.name': name },
                managedFields: [{ manager: 'kubectl-create', operation: 'Update', apiVersion: 'v1', time: '2026-11-27T14:21:21Z', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': { '.': {}, 'f:kubernetes.io/metadata.name': {} } } } }],
            },
            spec: {},
            status: { phase: 'Active' },
        },
        oldObject: null,
        dryRun: false,
        options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1', fieldManager: 'kubectl-create', fieldValidation: 'Strict' },
    });
}
/**
 * The request mix over a cluster of n namespaces: `blocks` groups of six requests spread over the namespaces —
 * Pod CREATE in a covered namespace (allowed) and in an uncovered one (denied), NetworkPolicy UPDATE (allowed),
 * NetworkPolicy DELETE (of allow-web: allowed; of deny-all: denied, every other block), GlobalNetworkPolicy CREATE
 * (denied) and Namespace CREATE on /mutate (patched).
 */
export function requestMix(n, blocks = 20) {
    const out = [];
    const uncovered = [];
    const covered = [];
    for (let i = 0; i < n; i++)
        (isUncovered(i) ? uncovered : covered).push(i);
    if (covered.length === 0 || uncovered.length === 0)
        throw new Error('the workload needs at least 10 namespaces');
    for (let k = 0; k < blocks; k++) {
        const c = nsName(covered[Math.floor((k * covered.length) / blocks)]);
        const u = nsName(uncovered[Math.floor((k * uncovered.length) / blocks)]);
        const del = k % 2 === 0 ? 'allow-web' : 'deny-all';
        out.push({ path: '/validate', label: 'Pod CREATE (covered)', review: podCreate(uidOf(k, 1), c, `web-${k}`), expect: 'allow' }, { path: '/validate', label: 'Pod CREATE (uncovered)', review: podCreate(uidOf(k, 2), u, `web-${k}`), expect: 'deny' }, { path: '/validate', label: 'NetworkPolicy UPDATE', review: networkPolicyUpdate(uidOf(k, 3), c), expect: 'allow' }, { path: '/validate', label: `NetworkPolicy DELETE`, review: networkPolicyDelete(uidOf(k, 4), c, del), expect: del === 'deny-all' ? 'deny' : 'allow' }, { path: '/validate', label: 'GlobalNetworkPolicy CREATE', review: globalNetworkPolicyCreate(uidOf(k, 5), `gnp-${k}`), expect: 'deny' }, { path: '/mutate', label: 'Namespace CREATE (/mutate)', review: namespaceCreate(uidOf(k, 6), `new-team-${k}`), expect: 'patch' });
    }
    return out;
}
//# sourceMappingURL=workload.js.map