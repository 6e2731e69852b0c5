// The resources each rule looks at. This table is the single source of truth: the webhook
// configurations in manifests/, the ValidatingAdmissionPolicy and the audit command are checked
// against (or generated from) it.

export interface ResourceRef {
  group: string
  resource: string
  /** The Kind, for messages and for the VAP/audit output. */
  kind: string
  /** Versions the webhook rules list; '*' in the manifests. */
  versions?: string[]
}

/** Cluster-wide network policy resources refused by `no-global-policy` (default list, configurable). */
export const DEFAULT_CLUSTER_WIDE_KINDS: readonly ResourceRef[] = Object.freeze([
  { group: 'crd.projectcalico.org', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' },
  { group: 'crd.projectcalico.org', resource: 'stagedglobalnetworkpolicies', kind: 'StagedGlobalNetworkPolicy' },
  { group: 'projectcalico.org', resource: 'globalnetworkpolicies', kind: 'GlobalNetworkPolicy' },
  { group: 'projectcalico.org', resource: 'stagedglobalnetworkpolicies', kind: 'StagedGlobalNetworkPolicy' },
  { group: 'cilium.io', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy' },
  { group: 'policy.networking.k8s.io', resource: 'adminnetworkpolicies', kind: 'AdminNetworkPolicy' },
  { group: 'policy.networking.k8s.io', resource: 'baselineadminnetworkpolicies', kind: 'BaselineAdminNetworkPolicy' },
  { group: 'policy.networking.k8s.io', resource: 'clusternetworkpolicies', kind: 'ClusterNetworkPolicy' },
  { group: 'crd.antrea.io', resource: 'clusternetworkpolicies', kind: 'ClusterNetworkPolicy' },
])

/** Pods and the controllers that create pods: refused by `require-deny-all` in an uncovered namespace. */
export const POD_WORKLOADS: readonly ResourceRef[] = Object.freeze([
  { group: '', resource: 'pods', kind: 'Pod' },
  { group: '', resource: 'replicationcontrollers', kind: 'ReplicationController' },
  { group: 'apps', resource: 'deployments', kind: 'Deployment' },
  { group: 'apps', resource: 'statefulsets', kind: 'StatefulSet' },
  { group: 'apps', resource: 'daemonsets', kind: 'DaemonSet' },
  { group: 'apps', resource: 'replicasets', kind: 'ReplicaSet' },
  { group: 'batch', resource: 'jobs', kind: 'Job' },
  { group: 'batch', resource: 'cronjobs', kind: 'CronJob' },
])

export const NETWORK_POLICIES: ResourceRef = Object.freeze({
  group: 'networking.k8s.io',
  resource: 'networkpolicies',
  kind: 'NetworkPolicy',
})

export const NAMESPACES: ResourceRef = Object.freeze({ group: '', resource: 'namespaces', kind: 'Namespace' })

export function sameResource(a: { group: string; resource: string }, b: { group: string; resource: string }): boolean {
  return a.group === b.group && a.resource === b.resource
}

// Lookups run on every admission request: an index (group → resource → ref) per list, built once.
const indexes = new WeakMap<readonly ResourceRef[], Map<string, Map<string, ResourceRef>>>()

export function findResource(list: readonly ResourceRef[], r: { group: string; resource: string }): ResourceRef | undefined {
  let index = indexes.get(list)
  if (!index) {
    index = new Map()
    for (const ref of list) {
      let byResource = index.get(ref.group)
      if (!byResource) index.set(ref.group, (byResource = new Map()))
      if (!byResource.has(ref.resource)) byResource.set(ref.resource, ref)
    }
    indexes.set(list, index)
  }
  return index.get(r.group)?.get(r.resource)
}

/** Kind for a group/resource among everything the guard knows, for messages when the request lacks it. */
const GUARDED_RESOURCES: readonly ResourceRef[] = [...POD_WORKLOADS, NETWORK_POLICIES, NAMESPACES]

export function kindOf(r: { group: string; resource: string }, clusterWide: readonly ResourceRef[]): string | undefined {
  // Two indexed lookups: a list built per call would get a fresh index every time.
  return findResource(clusterWide, r)?.kind ?? findResource(GUARDED_RESOURCES, r)?.kind
}
