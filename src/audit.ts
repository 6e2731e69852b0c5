// `netpol-guard audit`: a live cluster's compliance. Collecting (API calls, discovery) is separate from the
// report (a pure function of the collected objects and the config), which is tested on its own.
import type { GuardConfig } from './config.js'
import { isExemptNamespace } from './config.js'
import type { KubeObject, Namespace, NetworkPolicy } from './k8s/types.js'
import { namespaceMode } from './decision/mode.js'
import { coverageLabel, coverageOf, summarizePolicy, type CoverageLabel } from './policy/coverage.js'
import type { ResourceRef } from './policy/kinds.js'
import { namespaceInfo } from './view/memory-view.js'
import { bounded, describeError, loadKubeConfig, makeClients, plainObject, statusCode, type KubeClients } from './live/kube.js'

export interface AuditNamespace {
  name: string
  coverage: CoverageLabel | 'exempt'
  terminating: boolean
  dryRun: boolean
  policies: string[]
  /** Not exempt, not terminating, and not covered in both directions. */
  compliant: boolean
}

export interface AuditAllowAll {
  namespace: string
  policy: string
  directions: ('ingress' | 'egress')[]
  exempt: boolean
  /** Counts against compliance: not in an exempt namespace, and the no-allow-all rule is on. */
  counted: boolean
}

export interface AuditClusterWidePolicy {
  group: string
  version: string
  resource: string
  kind: string
  name: string
  /** Counts against compliance: the no-global-policy rule is on. */
  counted: boolean
}

export interface AuditReport {
  compliant: boolean
  namespaces: AuditNamespace[]
  allowAll: AuditAllowAll[]
  clusterWidePolicies: AuditClusterWidePolicy[]
  /** group/resource of the configured cluster-wide kinds that the cluster serves, and those it does not. */
  kindsServed: string[]
  kindsNotServed: string[]
  summary: {
    namespaces: number
    covered: number
    uncovered: number
    exempt: number
    terminating: number
    /** Listed, whether or not they count against compliance (see `counted` on each). */
    allowAllPolicies: number
    clusterWidePolicies: number
    /** Those that count against compliance. */
    allowAllPoliciesCounted: number
    clusterWidePoliciesCounted: number
  }
}

export interface ClusterWideListing {
  kind: ResourceRef
  /** The served version that was listed; undefined when the cluster does not serve the kind. */
  version?: string
  items: KubeObject[]
}

export interface AuditInput {
  namespaces: Namespace[]
  policies: NetworkPolicy[]
  clusterWide: ClusterWideListing[]
}

const kindKey = (k: { group: string; resource: string }): string => `${k.resource}.${k.group}`

/** The compliance report: pure. */
export function buildAuditReport(input: AuditInput, config: GuardConfig): AuditReport {
  const byNs = new Map<string, NetworkPolicy[]>()
  for (const np of input.policies) {
    const ns = np.metadata?.namespace
    if (!ns) continue
    ;(byNs.get(ns) ?? byNs.set(ns, []).get(ns)!).push(np)
  }
  const namespaces: AuditNamespace[] = []
  const allowAll: AuditAllowAll[] = []
  for (const raw of input.namespaces) {
    const info = namespaceInfo(raw)
    if (!info) continue
    const nps = (byNs.get(info.name) ?? []).slice().sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)))
    const summaries = nps.map(summarizePolicy)
    const exempt = isExemptNamespace(info.name, info.labels, config)
    const label = coverageLabel(coverageOf(summaries))
    namespaces.push({
      name: info.name,
      coverage: exempt ? 'exempt' : label,
      terminating: info.terminating,
      dryRun: namespaceMode(info.labels, config) === 'dry-run',
      policies: summaries.map((s) => s.name),
      compliant: exempt || info.terminating || label === 'both',
    })
    for (const s of summaries) {
      const directions: ('ingress' | 'egress')[] = []
      if (s.allowAllIngress) directions.push('ingress')
      if (s.allowAllEgress) directions.push('egress')
      if (directions.length) allowAll.push({ namespace: info.name, policy: s.name, directions, exempt, counted: !exempt && config.rules['no-allow-all'] })
    }
  }
  namespaces.sort((a, b) => a.name.localeCompare(b.name))
  const clusterWidePolicies: AuditClusterWidePolicy[] = []
  const kindsServed: string[] = []
  const kindsNotServed: string[] = []
  for (const l of input.clusterWide) {
    if (!l.version) {
      kindsNotServed.push(kindKey(l.kind))
      continue
    }
    kindsServed.push(kindKey(l.kind))
    for (const o of l.items) {
      const name = typeof o.metadata?.name === 'string' ? o.metadata.name : '(unnamed)'
      clusterWidePolicies.push({ group: l.kind.group, version: l.version, resource: l.kind.resource, kind: l.kind.kind, name, counted: config.rules['no-global-policy'] })
    }
  }
  const uncovered = namespaces.filter((n) => !n.compliant).length
  // Allow-all policies in exempt namespaces, and what a rule switched off in the config would let through, are
  // listed but not held against the cluster: the guard itself does not refuse them.
  const allowAllCounted = allowAll.filter((a) => a.counted).length
  const clusterWideCounted = clusterWidePolicies.filter((c) => c.counted).length
  return {
    compliant: uncovered === 0 && allowAllCounted === 0 && clusterWideCounted === 0,
    namespaces,
    allowAll,
    clusterWidePolicies,
    kindsServed,
    kindsNotServed,
    summary: {
      namespaces: namespaces.length,
      covered: namespaces.filter((n) => n.coverage === 'both').length,
      uncovered,
      exempt: namespaces.filter((n) => n.coverage === 'exempt').length,
      terminating: namespaces.filter((n) => n.terminating).length,
      allowAllPolicies: allowAll.length,
      clusterWidePolicies: clusterWidePolicies.length,
      allowAllPoliciesCounted: allowAllCounted,
      clusterWidePoliciesCounted: clusterWideCounted,
    },
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()).join('\n')
}

/** Human-readable report, kubectl-style columns. */
export function formatAuditTable(r: AuditReport): string {
  const out: string[] = []
  out.push(
    table([
      ['NAMESPACE', 'COVERAGE', 'POLICIES', 'STATUS'],
      ...r.namespaces.map((n) => [
        n.name,
        n.coverage,
        String(n.policies.length),
        n.terminating ? 'terminating' : n.coverage === 'exempt' ? 'exempt' : n.compliant ? 'ok' : n.dryRun ? 'NON-COMPLIANT (dry-run)' : 'NON-COMPLIANT',
      ]),
    ]),
  )
  out.push('')
  out.push('Allow-all NetworkPolicies:')
  out.push(
    r.allowAll.length
      ? table([['NAMESPACE', 'POLICY', 'ALLOWS ALL'], ...r.allowAll.map((a) => [a.namespace, a.policy, a.directions.join(', ') + (a.exempt ? ' (exempt namespace)' : a.counted ? '' : ' (no-allow-all is off)')])])
      : '  none',
  )
  out.push('')
  out.push(`Cluster-wide network policies (${r.kindsServed.length} of ${r.kindsServed.length + r.kindsNotServed.length} configured kinds served):`)
  out.push(
    r.clusterWidePolicies.length
      ? table([['KIND', 'API', 'NAME'], ...r.clusterWidePolicies.map((c) => [c.kind, `${c.group}/${c.version}`, c.name + (c.counted ? '' : ' (no-global-policy is off)')])])
      : '  none',
  )
  out.push('')
  const s = r.summary
  const problems: string[] = []
  if (s.uncovered) problems.push(`${s.uncovered} namespace${s.uncovered === 1 ? '' : 's'} without deny-all coverage`)
  const allowAll = s.allowAllPoliciesCounted
  if (allowAll) problems.push(`${allowAll} allow-all polic${allowAll === 1 ? 'y' : 'ies'}`)
  const clusterWide = s.clusterWidePoliciesCounted
  if (clusterWide) problems.push(`${clusterWide} cluster-wide polic${clusterWide === 1 ? 'y' : 'ies'}`)
  out.push(
    r.compliant
      ? `COMPLIANT: ${s.covered} covered, ${s.exempt} exempt, ${s.namespaces} namespaces`
      : `NON-COMPLIANT: ${problems.join(', ')} (${s.namespaces} namespaces)`,
  )
  return out.join('\n') + '\n'
}

const TIMEOUT_MS = 15_000

/** Which version of a group serves the resource: the preferred one first. Undefined when not served. */
async function servedVersion(
  clients: KubeClients,
  groups: Map<string, string[]>,
  cache: Map<string, Set<string>>,
  ref: ResourceRef,
): Promise<string | undefined> {
  for (const version of groups.get(ref.group) ?? []) {
    const gv = `${ref.group}/${version}`
    let resources = cache.get(gv)
    if (!resources) {
      try {
        const list = await bounded(TIMEOUT_MS, (o) => clients.customObjects.getAPIResources({ group: ref.group, version }, o))
        resources = new Set(list.resources.map((r) => r.name))
      } catch (e) {
        // A group version in discovery that cannot answer (e.g. an unavailable aggregated API) serves nothing we can list.
        if (statusCode(e) === 404 || statusCode(e) === 503) resources = new Set()
        else throw e
      }
      cache.set(gv, resources)
    }
    if (resources.has(ref.resource)) return version
  }
  return undefined
}

/** Reads what the report needs from the cluster. Throws on anything that prevents a complete answer. */
export async function collectAuditInput(clients: KubeClients, config: GuardConfig): Promise<AuditInput> {
  const [nsList, npList, apiGroups] = await Promise.all([
    bounded(TIMEOUT_MS, (o) => clients.core.listNamespace({}, o)),
    bounded(TIMEOUT_MS, (o) => clients.networking.listNetworkPolicyForAllNamespaces({}, o)),
    bounded(TIMEOUT_MS, (o) => clients.apis.getAPIVersions(o)),
  ])
  const groups = new Map<string, string[]>()
  for (const g of apiGroups.groups) {
    const preferred = g.preferredVersion?.version
    const versions = g.versions.map((v) => v.version)
    groups.set(g.name, preferred ? [preferred, ...versions.filter((v) => v !== preferred)] : versions)
  }
  const cache = new Map<string, Set<string>>()
  const clusterWide: ClusterWideListing[] = []
  for (const kind of config.clusterWideKinds) {
    const version = await servedVersion(clients, groups, cache, kind)
    if (!version) {
      clusterWide.push({ kind, items: [] })
      continue
    }
    const list = (await bounded(TIMEOUT_MS, (o) =>
      clients.customObjects.listClusterCustomObject({ group: kind.group, version, plural: kind.resource }, o),
    )) as { items?: KubeObject[] }
    clusterWide.push({ kind, version, items: Array.isArray(list?.items) ? list.items : [] })
  }
  return {
    namespaces: plainObject(nsList.items) as Namespace[],
    policies: plainObject(npList.items) as NetworkPolicy[],
    clusterWide,
  }
}

/** Runs the audit and prints the report. Exit code: 0 compliant, 1 non-compliant, 2 cluster unreachable / bad input. */
export async function auditCommand(
  opts: { kubeconfigPath?: string; output: 'table' | 'json'; config: GuardConfig },
  out: NodeJS.WritableStream,
): Promise<number> {
  const fail = (message: string): number => {
    out.write(opts.output === 'json' ? JSON.stringify({ error: message }) + '\n' : `netpol-guard audit: ${message}\n`)
    return 2
  }
  let clients: KubeClients
  try {
    clients = makeClients(loadKubeConfig(opts.kubeconfigPath))
  } catch (e) {
    return fail(`cannot load kubeconfig: ${(e as Error).message.split('\n')[0]}`)
  }
  let input: AuditInput
  try {
    input = await collectAuditInput(clients, opts.config)
  } catch (e) {
    return fail(`cannot read the cluster (${clients.kc.getCurrentCluster()?.server ?? 'no server'}): ${describeError(e)}`)
  }
  const report = buildAuditReport(input, opts.config)
  out.write(opts.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatAuditTable(report))
  return report.compliant ? 0 : 1
}
