import { isExemptNamespace } from './config.js';
import { LABEL_MODE } from './k8s/types.js';
import { coverageLabel, coverageOf, summarizePolicy } from './policy/coverage.js';
import { namespaceInfo } from './view/memory-view.js';
import { bounded, describeError, loadKubeConfig, makeClients, plainObject, statusCode } from './live/kube.js';
const kindKey = (k) => `${k.resource}.${k.group}`;
/** The compliance report: pure. */
export function buildAuditReport(input, config) {
    const byNs = new Map();
    for (const np of input.policies) {
        const ns = np.metadata?.namespace;
        if (!ns)
            continue;
        (byNs.get(ns) ?? byNs.set(ns, []).get(ns)).push(np);
    }
    const namespaces = [];
    const allowAll = [];
    for (const raw of input.namespaces) {
        const info = namespaceInfo(raw);
        if (!info)
            continue;
        const nps = (byNs.get(info.name) ?? []).slice().sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
        const summaries = nps.map(summarizePolicy);
        const exempt = isExemptNamespace(info.name, info.labels, config);
        const label = coverageLabel(coverageOf(summaries));
        namespaces.push({
            name: info.name,
            coverage: exempt ? 'exempt' : label,
            terminating: info.terminating,
            dryRun: config.mode === 'dry-run' || info.labels[LABEL_MODE] === 'dry-run',
            policies: summaries.map((s) => s.name),
            compliant: exempt || info.terminating || label === 'both',
        });
        for (const s of summaries) {
            const directions = [];
            if (s.allowAllIngress)
                directions.push('ingress');
            if (s.allowAllEgress)
                directions.push('egress');
            if (directions.length)
                allowAll.push({ namespace: info.name, policy: s.name, directions, exempt });
        }
    }
    namespaces.sort((a, b) => a.name.localeCompare(b.name));
    const clusterWidePolicies = [];
    const kindsServed = [];
    const kindsNotServed = [];
    for (const l of input.clusterWide) {
        if (!l.version) {
            kindsNotServed.push(kindKey(l.kind));
            continue;
        }
        kindsServed.push(kindKey(l.kind));
        for (const o of l.items) {
            const name = typeof o.metadata?.name === 'string' ? o.metadata.name : '(unnamed)';
            clusterWidePolicies.push({ group: l.kind.group, version: l.version, resource: l.kind.resource, kind: l.kind.kind, name });
        }
    }
    const uncovered = namespaces.filter((n) => !n.compliant).length;
    // Allow-all policies in exempt namespaces are listed, but exempt namespaces are out of the guard's scope.
    const allowAllCounted = allowAll.filter((a) => !a.exempt).length;
    return {
        compliant: uncovered === 0 && allowAllCounted === 0 && clusterWidePolicies.length === 0,
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
        },
    };
}
function table(rows) {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd()).join('\n');
}
/** Human-readable report, kubectl-style columns. */
export function formatAuditTable(r) {
    const out = [];
    out.push(table([
        ['NAMESPACE', 'COVERAGE', 'POLICIES', 'STATUS'],
        ...r.namespaces.map((n) => [
            n.name,
            n.coverage,
            String(n.policies.length),
            n.terminating ? 'terminating' : n.coverage === 'exempt' ? 'exempt' : n.compliant ? 'ok' : n.dryRun ? 'NON-COMPLIANT (dry-run)' : 'NON-COMPLIANT',
        ]),
    ]));
    out.push('');
    out.push('Allow-all NetworkPolicies:');
    out.push(r.allowAll.length
        ? table([['NAMESPACE', 'POLICY', 'ALLOWS ALL'], ...r.allowAll.map((a) => [a.namespace, a.policy, a.directions.join(', ') + (a.exempt ? ' (exempt namespace)' : '')])])
        : '  none');
    out.push('');
    out.push(`Cluster-wide network policies (${r.kindsServed.length} of ${r.kindsServed.length + r.kindsNotServed.length} configured kinds served):`);
    out.push(r.clusterWidePolicies.length
        ? table([['KIND', 'API', 'NAME'], ...r.clusterWidePolicies.map((c) => [c.kind, `${c.group}/${c.version}`, c.name])])
        : '  none');
    out.push('');
    const s = r.summary;
    const problems = [];
    if (s.uncovered)
        problems.push(`${s.uncovered} namespace${s.uncovered === 1 ? '' : 's'} without deny-all coverage`);
    const allowAll = r.allowAll.filter((a) => !a.exempt).length;
    if (allowAll)
        problems.push(`${allowAll} allow-all polic${allowAll === 1 ? 'y' : 'ies'}`);
    if (s.clusterWidePolicies)
        problems.push(`${s.clusterWidePolicies} cluster-wide polic${s.clusterWidePolicies === 1 ? 'y' : 'ies'}`);
    out.push(r.compliant
        ? `COMPLIANT: ${s.covered} covered, ${s.exempt} exempt, ${s.namespaces} namespaces`
        : `NON-COMPLIANT: ${problems.join(', ')} (${s.namespaces} namespaces)`);
    return out.join('\n') + '\n';
}
const TIMEOUT_MS = 15_000;
/** Which version of a group serves the resource: the preferred one first. Undefined when not served. */
async function servedVersion(clients, groups, cache, ref) {
    for (const version of groups.get(ref.group) ?? []) {
        const gv = `${ref.group}/${version}`;
        let resources = cache.get(gv);
        if (!resources) {
            try {
                const list = await bounded(TIMEOUT_MS, (o) => clients.customObjects.getAPIResources({ group: ref.group, version }, o));
                resources = new Set(list.resources.map((r) => r.name));
            }
            catch (e) {
                // A group version in discovery that cannot answer (e.g. an unavailable aggregated API) serves nothing we can list.
                if (statusCode(e) === 404 || statusCode(e) === 503)
                    resources = new Set();
                else
                    throw e;
            }
            cache.set(gv, resources);
        }
        if (resources.has(ref.resource))
            return version;
    }
    return undefined;
}
/** Reads what the report needs from the cluster. Throws on anything that prevents a complete answer. */
export async function collectAuditInput(clients, config) {
    const [nsList, npList, apiGroups] = await Promise.all([
        bounded(TIMEOUT_MS, (o) => clients.core.listNamespace({}, o)),
        bounded(TIMEOUT_MS, (o) => clients.networking.listNetworkPolicyForAllNamespaces({}, o)),
        bounded(TIMEOUT_MS, (o) => clients.apis.getAPIVersions(o)),
    ]);
    const groups = new Map();
    for (const g of apiGroups.groups) {
        const preferred = g.preferredVersion?.version;
        const versions = g.versions.map((v) => v.version);
        groups.set(g.name, preferred ? [preferred, ...versions.filter((v) => v !== preferred)] : versions);
    }
    const cache = new Map();
    const clusterWide = [];
    for (const kind of config.clusterWideKinds) {
        const version = await servedVersion(clients, groups, cache, kind);
        if (!version) {
            clusterWide.push({ kind, items: [] });
            continue;
        }
        const list = (await bounded(TIMEOUT_MS, (o) => clients.customObjects.listClusterCustomObject({ group: kind.group, version, plural: kind.resource }, o)));
        clusterWide.push({ kind, version, items: Array.isArray(list?.items) ? list.items : [] });
    }
    return {
        namespaces: plainObject(nsList.items),
        policies: plainObject(npList.items),
        clusterWide,
    };
}
/** Runs the audit and prints the report. Exit code: 0 compliant, 1 non-compliant, 2 cluster unreachable / bad input. */
export async function auditCommand(opts, out) {
    const fail = (message) => {
        out.write(opts.output === 'json' ? JSON.stringify({ error: message }) + '\n' : `netpol-guard audit: ${message}\n`);
        return 2;
    };
    let clients;
    try {
        clients = makeClients(loadKubeConfig(opts.kubeconfigPath));
    }
    catch (e) {
        return fail(`cannot load kubeconfig: ${e.message.split('\n')[0]}`);
    }
    let input;
    try {
        input = await collectAuditInput(clients, opts.config);
    }
    catch (e) {
        return fail(`cannot read the cluster (${clients.kc.getCurrentCluster()?.server ?? 'no server'}): ${describeError(e)}`);
    }
    const report = buildAuditReport(input, opts.config);
    out.write(opts.output === 'json' ? JSON.stringify(report, null, 2) + '\n' : formatAuditTable(report));
    return report.compliant ? 0 : 1;
}
//# sourceMappingURL=audit.js.map