// The standalone cluster view: Namespaces and NetworkPolicies read from a state file (what
// `kubectl get ns,networkpolicy -A -o yaml` prints, or several documents, YAML or JSON).
import { isRecord, metaString } from '../k8s/types.js';
import { ManifestError, readObjectsFile } from '../manifests/read.js';
import { MemoryView } from './memory-view.js';
export class StateFileError extends Error {
}
export function viewFromObjects(objects, source) {
    const view = new MemoryView();
    let namespaces = 0;
    let policies = 0;
    let ignored = 0;
    objects.forEach((obj, i) => {
        const name = metaString(obj, 'name');
        if (obj.kind === 'Namespace') {
            if (!name)
                throw new StateFileError(`${source}: object ${i + 1}: Namespace has no metadata.name`);
            view.upsertNamespace(obj);
            namespaces++;
        }
        else if (obj.kind === 'NetworkPolicy') {
            const ns = metaString(obj, 'namespace');
            if (!name || !ns)
                throw new StateFileError(`${source}: object ${i + 1}: NetworkPolicy needs metadata.name and metadata.namespace`);
            if (obj.spec !== undefined && !isRecord(obj.spec))
                throw new StateFileError(`${source}: NetworkPolicy ${ns}/${name}: spec must be a mapping`);
            view.upsertPolicy(ns, obj);
            policies++;
        }
        else {
            ignored++;
        }
    });
    return { view, namespaces, policies, ignored };
}
export function loadStateFile(path) {
    try {
        return viewFromObjects(readObjectsFile(path), path);
    }
    catch (e) {
        if (e instanceof ManifestError || e instanceof StateFileError)
            throw new StateFileError(e.message);
        throw e;
    }
}
//# sourceMappingURL=state-file.js.map