// Which mode applies to a request: the global mode, overridden per namespace by the
// netpol-guard.io/mode label (dry-run or enforce) of the namespace the request touches.
import type { GuardConfig, Mode } from '../config.js'
import { guardLabelsOf, LABEL_MODE, type AdmissionRequest } from '../k8s/types.js'
import { NAMESPACES, sameResource } from '../policy/kinds.js'
import type { ClusterView } from '../view/cluster-view.js'

function modeLabel(labels: Readonly<Record<string, string>> | undefined): Mode | undefined {
  const v = labels?.[LABEL_MODE]
  return v === 'dry-run' || v === 'enforce' ? v : undefined
}

/** A namespace's mode: its label when set (either way), else the global mode. Admission, the reconciler and audit agree on it. */
export function namespaceMode(labels: Readonly<Record<string, string>> | undefined, cfg: GuardConfig): Mode {
  return modeLabel(labels) ?? cfg.mode
}

/**
 * For a Namespace request the label is read from the namespace as it is *before* the request
 * (oldObject, or the view): a request may not switch its own judgement to dry-run by adding the label.
 */
export function requestMode(req: AdmissionRequest, view: ClusterView, cfg: GuardConfig): Mode {
  let labels: Readonly<Record<string, string>> | undefined
  if (sameResource(req.resource ?? { group: '', resource: '' }, NAMESPACES)) {
    labels = req.oldObject ? guardLabelsOf(req.oldObject) : req.name ? view.namespaceState(req.name)?.labels : undefined
  } else if (req.namespace) {
    labels = view.namespaceState(req.namespace)?.labels
  }
  return namespaceMode(labels, cfg)
}
