// The mutating decision for a Namespace CREATE: label it netpol-guard.io/deny-all=injected and ask
// for the deny-all policy to be created in it.
import { isExemptNamespace } from '../config.js';
import { isRecord, labelsOf, metaString, LABEL_DENY_ALL, LABEL_DENY_ALL_INJECTED } from '../k8s/types.js';
import { NAMESPACES, sameResource } from '../policy/kinds.js';
import { newNamespaceMode } from './mode.js';
function escapePointer(s) {
    return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
export function injectionPatch(obj) {
    const meta = isRecord(obj) ? obj.metadata : undefined;
    if (!isRecord(meta))
        return [{ op: 'add', path: '/metadata', value: { labels: { [LABEL_DENY_ALL]: LABEL_DENY_ALL_INJECTED } } }];
    if (!isRecord(meta.labels))
        return [{ op: 'add', path: '/metadata/labels', value: { [LABEL_DENY_ALL]: LABEL_DENY_ALL_INJECTED } }];
    // "add" on an existing member replaces it (RFC 6902 §4.1), so this also normalises a wrong value.
    return [{ op: 'add', path: `/metadata/labels/${escapePointer(LABEL_DENY_ALL)}`, value: LABEL_DENY_ALL_INJECTED }];
}
export function decideMutation(req, cfg) {
    const isNsCreate = req.operation === 'CREATE' && sameResource(req.resource ?? { group: '', resource: '' }, NAMESPACES) && !req.subResource;
    if (!isNsCreate || !isRecord(req.object))
        return { mode: cfg.mode, outcome: 'not-a-namespace-create' };
    const name = req.name || metaString(req.object, 'name') || '';
    const mode = newNamespaceMode(req.object, cfg);
    if (name && isExemptNamespace(name, labelsOf(req.object), cfg))
        return { mode, outcome: 'exempt' };
    if (mode === 'dry-run')
        return { mode, outcome: 'dry-run', ...(name ? { wouldInject: name } : {}) };
    const patch = injectionPatch(req.object);
    // A server-side dry run shows the label the object would get, but nothing is scheduled.
    if (req.dryRun === true)
        return { mode, outcome: 'patched-request-dry-run', patch };
    return { mode, outcome: 'patched', patch, ...(name ? { inject: name } : {}) };
}
//# sourceMappingURL=mutate.js.map