// Guard configuration: defaults, plus the optional YAML file given with --config.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isRecord } from './k8s/types.js';
import { DEFAULT_CLUSTER_WIDE_KINDS } from './policy/kinds.js';
export const RULE_IDS = [
    'no-global-policy',
    'require-deny-all',
    'protect-deny-all',
    'no-allow-all',
    'protect-guard-labels',
];
export const ALWAYS_EXEMPT = ['kube-system', 'kube-public', 'kube-node-lease'];
export function defaultConfig(overrides = {}) {
    return {
        mode: 'enforce',
        namespace: 'netpol-guard',
        rules: Object.fromEntries(RULE_IDS.map((r) => [r, true])),
        clusterWideKinds: DEFAULT_CLUSTER_WIDE_KINDS.map((k) => ({ ...k })),
        exemptNamespaces: [],
        policyName: 'deny-all',
        privilegedUsers: [],
        privilegedGroups: ['system:masters'],
        serviceAccount: 'netpol-guard',
        injectionGraceSeconds: 60,
        failClosed: false,
        staleAfterSeconds: 300,
        verifyTimeoutMs: 2000,
        ...overrides,
    };
}
export class ConfigError extends Error {
}
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
function stringList(v, field) {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
        throw new ConfigError(`${field} must be a list of strings`);
    return v;
}
/**
 * Reads the YAML config file. Keys (all optional):
 * rules: {<rule-id>: true|false}, clusterWideKinds: [{group, resource, kind}], exemptNamespaces: [..],
 * policyName, privilegedUsers: [..], privilegedGroups: [..], serviceAccount, injectionGraceSeconds,
 * failClosed, staleAfterSeconds, verifyTimeoutMs.
 */
export function parseConfig(text, base = defaultConfig()) {
    let doc;
    try {
        doc = parseYaml(text);
    }
    catch (e) {
        throw new ConfigError(`not valid YAML: ${e.message.split('\n')[0]}`);
    }
    if (doc === null || doc === undefined)
        return base;
    if (!isRecord(doc))
        throw new ConfigError('must be a YAML mapping');
    const cfg = { ...base, rules: { ...base.rules } };
    const known = new Set([
        'rules', 'clusterWideKinds', 'exemptNamespaces', 'policyName', 'privilegedUsers', 'privilegedGroups',
        'serviceAccount', 'injectionGraceSeconds', 'failClosed', 'staleAfterSeconds', 'verifyTimeoutMs',
    ]);
    for (const key of Object.keys(doc))
        if (!known.has(key))
            throw new ConfigError(`unknown key "${key}"`);
    if (doc.rules !== undefined) {
        if (!isRecord(doc.rules))
            throw new ConfigError('rules must be a mapping of rule id to true/false');
        for (const [id, on] of Object.entries(doc.rules)) {
            if (!RULE_IDS.includes(id))
                throw new ConfigError(`rules: unknown rule "${id}" (known: ${RULE_IDS.join(', ')})`);
            if (typeof on !== 'boolean')
                throw new ConfigError(`rules.${id} must be true or false`);
            cfg.rules[id] = on;
        }
    }
    if (doc.clusterWideKinds !== undefined) {
        if (!Array.isArray(doc.clusterWideKinds))
            throw new ConfigError('clusterWideKinds must be a list');
        cfg.clusterWideKinds = doc.clusterWideKinds.map((k, i) => {
            if (!isRecord(k) || typeof k.group !== 'string' || typeof k.resource !== 'string' || !k.resource)
                throw new ConfigError(`clusterWideKinds[${i}] needs group and resource strings`);
            const kind = typeof k.kind === 'string' && k.kind ? k.kind : k.resource;
            return { group: k.group, resource: k.resource.toLowerCase(), kind };
        });
    }
    if (doc.exemptNamespaces !== undefined)
        cfg.exemptNamespaces = stringList(doc.exemptNamespaces, 'exemptNamespaces');
    if (doc.privilegedUsers !== undefined)
        cfg.privilegedUsers = stringList(doc.privilegedUsers, 'privilegedUsers');
    if (doc.privilegedGroups !== undefined)
        cfg.privilegedGroups = stringList(doc.privilegedGroups, 'privilegedGroups');
    for (const key of ['policyName', 'serviceAccount']) {
        const v = doc[key];
        if (v === undefined)
            continue;
        if (typeof v !== 'string' || !DNS_LABEL.test(v))
            throw new ConfigError(`${key} must be a DNS label (lower case letters, digits, -)`);
        cfg[key] = v;
    }
    for (const key of ['injectionGraceSeconds', 'staleAfterSeconds', 'verifyTimeoutMs']) {
        const v = doc[key];
        if (v === undefined)
            continue;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
            throw new ConfigError(`${key} must be a non-negative number`);
        cfg[key] = v;
    }
    if (doc.failClosed !== undefined) {
        if (typeof doc.failClosed !== 'boolean')
            throw new ConfigError('failClosed must be true or false');
        cfg.failClosed = doc.failClosed;
    }
    return cfg;
}
export function loadConfigFile(path, base) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch (e) {
        throw new ConfigError(`${path}: cannot read: ${e.code ?? e.message}`);
    }
    try {
        return parseConfig(text, base);
    }
    catch (e) {
        throw new ConfigError(`${path}: ${e.message}`);
    }
}
export function isExemptNamespace(name, labels, cfg) {
    if (ALWAYS_EXEMPT.includes(name))
        return true;
    if (name === cfg.namespace)
        return true;
    if (cfg.exemptNamespaces.includes(name))
        return true;
    return labels?.['netpol-guard.io/exempt'] === 'true';
}
export function guardServiceAccountUser(cfg) {
    return `system:serviceaccount:${cfg.namespace}:${cfg.serviceAccount}`;
}
//# sourceMappingURL=config.js.map