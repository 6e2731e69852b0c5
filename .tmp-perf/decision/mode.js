import { LABEL_MODE, labelsOf } from '../k8s/types.js';
import { NAMESPACES, sameResource } from '../policy/kinds.js';
function modeLabel(labels) {
    const v = labels?.[LABEL_MODE];
    return v === 'dry-run' || v === 'enforce' ? v : undefined;
}
/**
 * For a Namespace request the label is read from the namespace as it is *before* the request
 * (oldObject, or the view): a request may not switch its own judgement to dry-run by adding the label.
 */
export function requestMode(req, view, cfg) {
    let labels;
    if (sameResource(req.resource ?? { group: '', resource: '' }, NAMESPACES)) {
        labels = req.oldObject ? labelsOf(req.oldObject) : req.name ? view.namespace(req.name)?.labels : undefined;
    }
    else if (req.namespace) {
        labels = view.namespace(req.namespace)?.labels;
    }
    return modeLabel(labels) ?? cfg.mode;
}
/** Mode for the mutation of a new Namespace: its own labels (admitted only if a privileged user set them). */
export function newNamespaceMode(obj, cfg) {
    return modeLabel(labelsOf(obj)) ?? cfg.mode;
}
//# sourceMappingURL=mode.js.map