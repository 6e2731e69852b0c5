// The resources each rule looks at. This table is the single source of truth: the webhook
// configurations in manifests/, the ValidatingAdmissionPolicy and the audit command are checked
// against (or generated from) it.
/** Cluster-wide network policy resources refused by `no-global-policy` (default list, configurable). */
export const DEFAULT_CLUSTER_WIDE_KINDS = Object.freeze([
    { group: 'crd.projectcalico.org', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' },
    { group: 'crd.projectcalico.org', resource: 'stagedglobalnetworkpolicies', kind: 'StagedGlobalNetworkPolicy' },
    { group: 'projectcalico.org', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' },
    { group: 'projectcalico.org', resource: 'stagedglobalnetworkpolicies', kind: 'StagedGlobalNetworkPolicy' },
    { group: 'cilium.io', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy' },
    { group: 'policy.networking.k8s.io', resource: 'adminnetworkpolicies', kind: 'AdminNetworkPolicy' },
    { group: 'policy.networking.k8s.io', resource: 'baselineadminnetworkpolicies', kind: 'BaselineAdminNetworkPolicy' },
    { group: 'policy.networking.k8s.io', resource: 'clusternetworkpolicies', kind: 'ClusterNetworkPolicy' },
    { group: 'crd.antrea.io', resource: 'clusternetworkpolicies', kind: 'ClusterNetworkPolicy' },
]);
/** Pods and the controllers that create pods: refused by `require-deny-all` in an uncovered namespace. */
export const POD_WORKLOADS = Object.freeze([
    { group: '', resource: 'pods', kind: 'Pod' },
    { group: '', resource: 'replicationcontrollers', kind: 'ReplicationController' },
    { group: 'apps', resource: 'deployments', kind: 'Deployment' },
    { group: 'apps', resource: 'statefulsets', kind: 'StatefulSet' },
    { group: 'apps', resource: 'daemonsets', kind: 'DaemonSet' },
    { group: 'apps', resource: 'replicasets', kind: 'ReplicaSet' },
    { group: 'batch', resource: 'jobs', kind: 'Job' },
    { group: 'batch', resource: 'cronjobs', kind: 'CronJob' },
]);
export const NETWORK_POLICIES = Object.freeze({
    group: 'networking.k8s.io',
    resource: 'networkpolicies',
    kind: 'NetworkPolicy',
});
export const NAMESPACES = Object.freeze({ group: '', resource: 'namespaces', kind: 'Namespace' });
export function sameResource(a, b) {
    return a.group === b.group && a.resource === b.resource;
}
export function findResource(list, r) {
    return list.find((x) => sameResource(x, r));
}
/** Kind for a group/resource among everything the guard knows, for messages when the request lacks it. */
export function kindOf(r, clusterWide) {
    return findResource([...clusterWide, ...POD_WORKLOADS, NETWORK_POLICIES, NAMESPACES], r)?.kind;
}
//# sourceMappingURL=kinds.js.map