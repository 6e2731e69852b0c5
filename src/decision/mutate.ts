// The mutating decision for a Namespace CREATE: label it netpol-guard.io/deny-all=injected and ask
// for the deny-all policy to be created in it.
import { isExemptNamespace, type GuardConfig, type Mode } from '../config.js'
import { guardLabelsOf, isRecord, metaString, LABEL_DENY_ALL, LABEL_DENY_ALL_INJECTED, type AdmissionRequest } from '../k8s/types.js'
import { NAMESPACES, sameResource } from '../policy/kinds.js'
import type { ClusterView } from '../view/cluster-view.js'
import { namespaceMode } from './mode.js'

export interface JsonPatchOp {
  op: 'add' | 'replace'
  path: string
  value: unknown
}

export type MutationOutcome =
  | 'not-a-namespace-create'
  | 'already-exists'
  | 'exempt'
  | 'dry-run'
  | 'patched'
  | 'request-dry-run'

export interface MutationDecision {
  mode: Mode
  outcome: MutationOutcome
  /** JSONPatch for the namespace, when it is to be labelled. */
  patch?: readonly JsonPatchOp[]
  /** Namespace whose deny-all policy must be created (never set for request.dryRun or dry-run mode). */
  inject?: string
  /** What would have been done: in dry-run mode, or for a request with dryRun true. */
  wouldInject?: string
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1')
}

// The three patches there are, built once: a mutation answer is then a lookup (review.ts caches their encoding).
const ADD_METADATA: readonly JsonPatchOp[] = deepFreeze([{ op: 'add', path: '/metadata', value: { labels: { [LABEL_DENY_ALL]: LABEL_DENY_ALL_INJECTED } } }])
const ADD_LABELS: readonly JsonPatchOp[] = deepFreeze([{ op: 'add', path: '/metadata/labels', value: { [LABEL_DENY_ALL]: LABEL_DENY_ALL_INJECTED } }])
// "add" on an existing member replaces it (RFC 6902 §4.1), so this also normalises a wrong value.
const ADD_LABEL: readonly JsonPatchOp[] = deepFreeze([{ op: 'add', path: `/metadata/labels/${escapePointer(LABEL_DENY_ALL)}`, value: LABEL_DENY_ALL_INJECTED }])

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x)
    Object.freeze(v)
  }
  return v
}

export function injectionPatch(obj: unknown): readonly JsonPatchOp[] {
  const meta = isRecord(obj) ? obj.metadata : undefined
  if (!isRecord(meta)) return ADD_METADATA
  if (!isRecord(meta.labels)) return ADD_LABELS
  return ADD_LABEL
}

export function decideMutation(req: AdmissionRequest, view: ClusterView, cfg: GuardConfig): MutationDecision {
  const isNsCreate =
    req.operation === 'CREATE' && sameResource(req.resource ?? { group: '', resource: '' }, NAMESPACES) && !req.subResource
  if (!isNsCreate || !isRecord(req.object)) return { mode: cfg.mode, outcome: 'not-a-namespace-create' }
  const name = req.name || metaString(req.object, 'name') || ''
  // The mode of a new Namespace is its own label (admitted only if a privileged user set it).
  const labels = guardLabelsOf(req.object)
  const mode = namespaceMode(labels, cfg)
  if (name && isExemptNamespace(name, labels, cfg)) return { mode, outcome: 'exempt' }
  if (mode === 'dry-run') return { mode, outcome: 'dry-run', ...(name ? { wouldInject: name } : {}) }
  // The contract gives the patch and the injection only for a request with dryRun false: a server-side dry run
  // (`kubectl create ns x --dry-run=server`) is answered without a patch, and nothing is scheduled.
  if (req.dryRun === true) return { mode, outcome: 'request-dry-run', ...(name ? { wouldInject: name } : {}) }
  // The apiserver calls mutating webhooks before it finds that the name is taken, so a CREATE of a namespace that
  // exists (terminating or not) reaches us and then fails with AlreadyExists. Promising an injection for it would
  // make the existing namespace count as covered for the grace period: anyone allowed to create namespaces (or to
  // reach /mutate) could lift require-deny-all there at will. It keeps its patch, which the failed CREATE discards:
  // were the view a moment behind a deletion, the new namespace is labelled, so the label's grace covers it on every
  // replica until the reconciler creates its deny-all.
  const patch = injectionPatch(req.object)
  if (name && view.namespace(name)) return { mode, outcome: 'already-exists', patch }
  return { mode, outcome: 'patched', patch, ...(name ? { inject: name } : {}) }
}
