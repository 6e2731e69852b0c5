// In-memory ClusterView: per namespace a record (info and policy summaries) and the state requests read.
// The static (file) view and the live (watch) view both write into one of these.
import { guardLabelsIn, isRecord, type Namespace, type NetworkPolicy } from '../k8s/types.js'
import { coverageOf, summarizePolicy, type Coverage, type PolicySummary } from '../policy/coverage.js'
import type { ClusterView, NamespaceInfo, NamespaceState } from './cluster-view.js'
import { NameTable } from './name-table.js'

/** Labels of a namespace that has none of the guard's: one shared object. */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({})

// The guard's labels take few values (deny-all: injected on every namespace admitted through /mutate, exempt,
// mode), so each distinct set of them is one shared frozen object, and so is each state built on one (stateOf):
// what a request reads of a namespace is then an object many namespaces share, which stays in the CPU caches.
// Bounded, since label values are whatever was written: past the bound a set gets objects of its own.
const LABEL_SETS_MAX = 256
const labelSets = new Map<string, Readonly<Record<string, string>>>()
/** The states of each shared label set, at (terminating ? 4 : 0) + the index of the coverage in COVERAGES. */
const statesOfLabelSet = new WeakMap<object, (NamespaceState | undefined)[]>([[NO_LABELS, []]])

/** The guard's own labels (netpol-guard.io/...) among a namespace's labels: all that decisions read (see NamespaceInfo). */
function guardLabels(labels: unknown): Readonly<Record<string, string>> {
  if (!isRecord(labels)) return NO_LABELS
  // Already one of the shared sets (a NamespaceInfo this module made): nothing to filter.
  if (statesOfLabelSet.has(labels)) return labels as Readonly<Record<string, string>>
  const set = guardLabelsIn(labels)
  const keys = Object.keys(set)
  if (keys.length === 0) return NO_LABELS
  const key = JSON.stringify(keys.sort().map((k) => [k, set[k]]))
  const shared = labelSets.get(key)
  if (shared) return shared
  const frozen = Object.freeze(set)
  if (labelSets.size < LABEL_SETS_MAX) {
    labelSets.set(key, frozen)
    statesOfLabelSet.set(frozen, [])
  }
  return frozen
}

export function namespaceInfo(ns: Namespace): NamespaceInfo | undefined {
  const meta = isRecord(ns.metadata) ? ns.metadata : undefined
  const name = meta && typeof meta.name === 'string' ? meta.name : undefined
  if (!name) return undefined
  const phase = isRecord(ns.status) ? ns.status.phase : undefined
  const created = typeof meta?.creationTimestamp === 'string' ? Date.parse(meta.creationTimestamp) : NaN
  return {
    name,
    labels: guardLabels(meta?.labels),
    terminating: phase === 'Terminating' || typeof meta?.deletionTimestamp === 'string',
    ...(Number.isFinite(created) ? { createdAt: created } : {}),
  }
}

const NO_POLICIES: readonly PolicySummary[] = Object.freeze([])

/** Distinct (name, verdicts) summaries shared between namespaces, at most this many. */
const INTERN_MAX = 8192

function summaryKey(s: PolicySummary): string {
  const bits =
    (s.selectsAllPods ? 1 : 0) | (s.coversIngress ? 2 : 0) | (s.coversEgress ? 4 : 0) |
    (s.allowAllIngress ? 8 : 0) | (s.allowAllEgress ? 16 : 0) | (s.managedByGuard ? 32 : 0)
  return `${bits}:${s.name}`
}

// The four possible coverages, shared: a state points at one of them.
const COVERAGES: readonly Coverage[] = [
  Object.freeze({ ingress: false, egress: false }),
  Object.freeze({ ingress: true, egress: false }),
  Object.freeze({ ingress: false, egress: true }),
  Object.freeze({ ingress: true, egress: true }),
]

function sharedCoverage(policies: readonly PolicySummary[]): Coverage {
  const c = coverageOf(policies)
  return COVERAGES[(c.ingress ? 1 : 0) | (c.egress ? 2 : 0)]!
}

/** A namespace's state: shared with every namespace with the same (shared) label set, terminating state and coverage. */
function stateOf(labels: Readonly<Record<string, string>>, terminating: boolean, coverage: Coverage): NamespaceState {
  const states = statesOfLabelSet.get(labels)
  if (!states) return Object.freeze({ labels, terminating, coverage })
  return (states[(terminating ? 4 : 0) + COVERAGES.indexOf(coverage)] ??= Object.freeze({ labels, terminating, coverage }))
}

/**
 * The view's own copy of a namespace's info. Its policy summaries are a private field: not seen by spreads, JSON or
 * tests (see the layout note below).
 */
class NamespaceRecord implements NamespaceInfo {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly terminating: boolean
  declare readonly createdAt?: number
  #policies: readonly PolicySummary[]

  constructor(info: NamespaceInfo, policies: readonly PolicySummary[]) {
    this.name = info.name
    // A shared copy, so that a caller's object is not kept.
    this.labels = guardLabels(info.labels)
    this.terminating = info.terminating
    if (info.createdAt !== undefined) (this as { createdAt?: number }).createdAt = info.createdAt
    this.#policies = policies
  }

  static policies(r: NamespaceRecord): readonly PolicySummary[] {
    return r.#policies
  }

  static setPolicies(r: NamespaceRecord, policies: readonly PolicySummary[]): void {
    r.#policies = policies
  }
}

/** What the state table holds for a record: its labels and terminating state, and the coverage of its policies. */
function stateOfRecord(r: NamespaceRecord): NamespaceState {
  return stateOf(r.labels, r.terminating, sharedCoverage(NamespaceRecord.policies(r)))
}

// Layout, for the admission hot path in large clusters. With 10,000 namespaces, what a request's namespace holds
// is cold in the CPU caches (and TLB) when the request comes, and every pointer followed is a miss (~0.1-0.3 us
// each on a VM). So a Pod CREATE reads one entry of the state table (NameTable: one probe), whose value is the
// namespace's guard labels, terminating state and policy coverage (worked out when they change, not per request):
// an object shared by all namespaces in the same state, which stays in the caches (see guardLabels). The record
// (name, creation time, summaries) is read only when a request needs more: a coverage denial's grace period, the
// NetworkPolicy rules. The summaries are a frozen array handed out as is (no copy). Policies of a namespace the
// view does not hold yet (the policy list ran ahead) wait in `orphans`.
// Per namespace the summaries are replaced copy-on-write when a policy changes. Summaries are values: the same
// policy name with the same verdicts in many namespaces (a platform's or a Helm chart's policies, the guard's own
// deny-all) is one shared frozen object (a bounded intern table), so 100,000 policies cost little more than their
// per-namespace arrays, and stay hot in the caches.
/** A NamespaceInfo as it is, or the info read from a Namespace object. */
function asNamespaceInfo(ns: Namespace | NamespaceInfo): NamespaceInfo | undefined {
  return 'terminating' in ns && typeof ns.name === 'string' ? (ns as NamespaceInfo) : namespaceInfo(ns as Namespace)
}

export class MemoryView implements ClusterView {
  private namespaces = new NameTable<NamespaceRecord>()
  /** Each record's state, by name: what a request reads (see the layout note above). Kept in step with `namespaces`. */
  private states = new NameTable<NamespaceState>()
  private orphans = new Map<string, readonly PolicySummary[]>()
  private readonly pending = new Map<string, number>()
  private readonly interned = new Map<string, PolicySummary>()

  namespace(name: string): NamespaceInfo | undefined {
    return this.namespaces.get(name)
  }

  namespaceState(name: string): NamespaceState | undefined {
    return this.states.get(name)
  }

  /** The namespace's summaries; the array is shared and frozen: do not keep it expecting updates. */
  policies(namespace: string): readonly PolicySummary[] {
    const r = this.namespaces.get(namespace)
    return r ? NamespaceRecord.policies(r) : (this.orphans.get(namespace) ?? NO_POLICIES)
  }

  policyCoverage(namespace: string): Coverage {
    const s = this.states.get(namespace)
    return s ? s.coverage : sharedCoverage(this.orphans.get(namespace) ?? NO_POLICIES)
  }

  pendingInjection(namespace: string): number | undefined {
    return this.pending.get(namespace)
  }

  namespaceNames(): Iterable<string> {
    return this.namespaces.keys()
  }

  namespaceCount(): number {
    return this.namespaces.size
  }

  policyCount(): number {
    let n = 0
    for (const r of this.namespaces.values()) n += NamespaceRecord.policies(r).length
    for (const list of this.orphans.values()) n += list.length
    return n
  }

  upsertNamespace(ns: Namespace | NamespaceInfo): void {
    const info = asNamespaceInfo(ns)
    if (!info) return
    const policies = this.policiesOf(this.namespaces.get(info.name)) ?? this.orphans.get(info.name) ?? NO_POLICIES
    this.orphans.delete(info.name)
    const r = new NamespaceRecord(info, policies)
    this.namespaces.set(r.name, r)
    this.states.set(r.name, stateOfRecord(r))
  }

  deleteNamespace(name: string): void {
    this.namespaces.delete(name)
    this.states.delete(name)
    this.orphans.delete(name)
    this.pending.delete(name)
  }

  upsertPolicy(namespace: string, np: NetworkPolicy | PolicySummary): void {
    const summary = this.toSummary(np)
    const cur = this.policies(namespace)
    const at = cur.findIndex((p) => p.name === summary.name)
    const next = cur.slice()
    if (at >= 0) next[at] = summary
    else next.push(summary)
    this.setPolicies(namespace, Object.freeze(next))
    // A namespace that now holds a guard-made policy no longer needs its pending promise.
    if (summary.managedByGuard) this.pending.delete(namespace)
  }

  deletePolicy(namespace: string, name: string): void {
    const cur = this.policies(namespace)
    if (!cur.some((p) => p.name === name)) return
    const next = cur.filter((p) => p.name !== name)
    this.setPolicies(namespace, next.length > 0 ? Object.freeze(next) : NO_POLICIES)
  }

  /**
   * Records a promise to inject deny-all. Promises older than `keepMs` before `at` no longer count as coverage
   * (the grace period is over), so they are dropped here rather than kept for every namespace ever created.
   */
  markPending(namespace: string, at: number, keepMs = Number.POSITIVE_INFINITY): void {
    // The map is kept in the order promises were made (a renewed one moves to the end), so the expired ones are
    // at the front: stop at the first that still counts.
    for (const [ns, t] of this.pending) {
      if (at - t <= keepMs) break
      this.pending.delete(ns)
    }
    this.pending.delete(namespace)
    this.pending.set(namespace, at)
  }

  clearPending(namespace: string): void {
    this.pending.delete(namespace)
  }

  /**
   * Swaps in a complete namespace list at once (a relist), so no request sees a half-filled view. A namespace the
   * view held that the list no longer has was deleted while we were not watching: it goes with its policies and
   * pending promise, as a DELETED event would take them (deleteNamespace). Policies of namespaces the view never
   * held are kept: the policy list may be ahead of the namespace list, and the namespace watch will bring them.
   */
  replaceNamespaces(list: Iterable<Namespace | NamespaceInfo>): void {
    const prev = this.namespaces
    const next = new NameTable<NamespaceRecord>()
    const states = new NameTable<NamespaceState>()
    for (const ns of list) {
      const info = asNamespaceInfo(ns)
      if (!info) continue
      const policies = this.policiesOf(prev.get(info.name)) ?? this.orphans.get(info.name) ?? NO_POLICIES
      const r = new NamespaceRecord(info, policies.length > 0 ? Object.freeze(policies.slice()) : NO_POLICIES)
      next.set(r.name, r)
      states.set(r.name, stateOfRecord(r))
    }
    const orphans = new Map<string, readonly PolicySummary[]>()
    for (const [name, list] of this.orphans) if (!next.has(name)) orphans.set(name, list)
    for (const name of prev.keys()) if (!next.has(name)) this.pending.delete(name) // gone while we were not watching
    this.namespaces = next
    this.states = states
    this.orphans = orphans
  }

  /** Swaps in a complete NetworkPolicy list at once (a relist); a later entry with the same name wins. */
  replacePolicies(list: Iterable<{ namespace: string; policy: NetworkPolicy | PolicySummary }>): void {
    const building = new Map<string, PolicySummary[]>()
    // Name lookup per namespace: a linear scan while small, an index once a namespace holds many policies.
    const index = new Map<string, Map<string, number>>()
    for (const { namespace, policy } of list) {
      const summary = this.toSummary(policy)
      let arr = building.get(namespace)
      if (!arr) building.set(namespace, (arr = []))
      let at = -1
      let ix = index.get(namespace)
      if (!ix && arr.length >= 32) index.set(namespace, (ix = new Map(arr.map((p, i) => [p.name, i]))))
      if (ix) {
        at = ix.get(summary.name) ?? -1
        if (at < 0) ix.set(summary.name, arr.length)
      } else at = arr.findIndex((p) => p.name === summary.name)
      if (at >= 0) arr[at] = summary
      else arr.push(summary)
      if (summary.managedByGuard) this.pending.delete(namespace)
    }
    // All in one synchronous step: no request sees half of it. slice(): exact-size copies.
    const orphans = new Map<string, readonly PolicySummary[]>()
    for (const [name, arr] of building) if (!this.namespaces.has(name)) orphans.set(name, Object.freeze(arr.slice()))
    // Fresh records, each allocated right after its summaries array: one namespace's data sits together.
    const next = new NameTable<NamespaceRecord>()
    const states = new NameTable<NamespaceState>()
    for (const [name, r] of this.namespaces) {
      const arr = building.get(name)
      const fresh = new NamespaceRecord(r, arr ? Object.freeze(arr.slice()) : NO_POLICIES)
      next.set(fresh.name, fresh)
      states.set(fresh.name, stateOfRecord(fresh))
    }
    this.namespaces = next
    this.states = states
    this.orphans = orphans
  }

  private setPolicies(namespace: string, list: readonly PolicySummary[]): void {
    const r = this.namespaces.get(namespace)
    if (r) {
      NamespaceRecord.setPolicies(r, list)
      this.states.set(namespace, stateOfRecord(r))
    } else if (list.length > 0) this.orphans.set(namespace, list)
    else this.orphans.delete(namespace)
  }

  private policiesOf(r: NamespaceRecord | undefined): readonly PolicySummary[] | undefined {
    return r ? NamespaceRecord.policies(r) : undefined
  }

  private toSummary(p: NetworkPolicy | PolicySummary): PolicySummary {
    const given = 'coversIngress' in p
    const s = given ? (p as PolicySummary) : summarizePolicy(p as NetworkPolicy)
    const key = summaryKey(s)
    const hit = this.interned.get(key)
    if (hit) return hit
    // A caller's summary is copied before it is frozen and shared.
    const shared = Object.freeze(given ? { ...s } : s)
    if (this.interned.size < INTERN_MAX) this.interned.set(key, shared)
    return shared
  }
}
