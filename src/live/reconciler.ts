// The reconciler: brings every non-exempt, non-terminating namespace to deny-all coverage (enforce) or reports
// it (dry-run, name conflicts). Only the leader acts on its own initiative (at start, on namespace and policy
// events, after relists and on a periodic resync); injections requested by the admission path run on whichever
// replica answered the request. All writes go through one keyed queue with bounded concurrency, so a
// namespace is never worked on twice at once.
import type { Logger } from 'pino'
import type { GuardConfig } from '../config.js'
import { coverageLabel, coverageOf } from '../policy/coverage.js'
import type { DenyAllWriter } from './deny-all-writer.js'
import type { EventSink } from './events.js'
import type { LiveView, ViewEvent } from './live-view.js'
import type { LiveMetrics } from './metrics.js'
import { isNoncompliant, planNamespace, type NamespacePlan } from './plan.js'
import { KeyedQueue } from './work-queue.js'

export interface ReconcilerTuning {
  /** Writes in flight at once. Default 8. */
  concurrency?: number
  /** Full pass over the view this often (catches anything an event missed). Default 60 s. */
  resyncIntervalMs?: number
}

export class Reconciler {
  private readonly queue: KeyedQueue
  private readonly fromAdmission = new Set<string>()
  private readonly noncompliant = new Set<string>()
  /** Namespace → what was last reported about it, so reports (log, Event) are not repeated every pass. */
  private readonly reported = new Map<string, string>()
  private resyncTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly live: LiveView,
    private readonly writer: DenyAllWriter,
    private readonly leader: { isLeader(): boolean },
    private readonly config: GuardConfig,
    private readonly events: EventSink,
    private readonly metrics: LiveMetrics,
    private readonly log: Logger,
    private readonly tuning: ReconcilerTuning = {},
  ) {
    this.queue = new KeyedQueue(tuning.concurrency ?? 8, (ns) => this.work(ns))
  }

  start(): void {
    this.live.onEvent((e) => this.onViewEvent(e))
    this.resyncTimer = setInterval(() => this.reconcileAll(), this.tuning.resyncIntervalMs ?? 60_000)
    this.resyncTimer.unref()
  }

  stop(): Promise<void> {
    clearInterval(this.resyncTimer)
    this.queue.stop()
    return this.queue.idle()
  }

  /** Admission path: the namespace was just admitted with the injection label; create its policy now. */
  requestInjection(namespace: string): void {
    this.fromAdmission.add(namespace)
    this.queue.add(namespace)
  }

  /** Leader: queue every namespace that needs action; everyone: recompute the non-compliance gauge. */
  reconcileAll(): void {
    if (!this.live.synced()) return
    for (const ns of [...this.noncompliant]) if (!this.live.view.namespace(ns)) this.forget(ns)
    for (const ns of this.live.view.namespaceNames()) {
      const plan = this.refresh(ns)
      if (this.leader.isLeader() && isNoncompliant(plan)) this.queue.add(ns)
    }
  }

  /** Resolves once no write is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue.idle()
  }

  private onViewEvent(e: ViewEvent): void {
    if (e.kind === 'relist') {
      this.reconcileAll()
      return
    }
    const ns = e.kind === 'namespace' ? e.name : e.namespace
    if (e.kind === 'namespace' && e.type === 'DELETED') {
      this.forget(ns)
      return
    }
    const plan = this.refresh(ns)
    if (this.live.synced() && this.leader.isLeader() && isNoncompliant(plan)) this.queue.add(ns)
  }

  private forget(ns: string): void {
    this.noncompliant.delete(ns)
    this.reported.delete(ns)
    this.metrics.noncompliant.set(this.noncompliant.size)
  }

  private plan(ns: string): NamespacePlan {
    return planNamespace(this.live.view.namespace(ns), this.live.view.policies(ns), this.config)
  }

  /** Updates the non-compliance bookkeeping of one namespace from the view; returns its plan. */
  private refresh(ns: string): NamespacePlan {
    const plan = this.plan(ns)
    if (isNoncompliant(plan)) this.noncompliant.add(ns)
    else {
      this.noncompliant.delete(ns)
      this.reported.delete(ns)
    }
    this.metrics.noncompliant.set(this.noncompliant.size)
    return plan
  }

  private async work(ns: string): Promise<void> {
    if (this.fromAdmission.delete(ns)) {
      // The namespace may not be in the view yet (its CREATE was just admitted): act unless the view already
      // shows it covered or going away.
      const info = this.live.view.namespace(ns)
      const cov = coverageOf(this.live.view.policies(ns))
      if ((cov.ingress && cov.egress) || info?.terminating) return
      await this.writer.ensure(ns, 'admission')
      return
    }
    if (!this.leader.isLeader() || !this.live.synced()) return
    const plan = this.plan(ns)
    if (plan.action === 'inject') {
      const result = await this.writer.ensure(ns, 'reconcile')
      if (result === 'conflict') this.reported.set(ns, 'name-conflict')
      return
    }
    if (plan.action !== 'report' || this.reported.get(ns) === plan.why) return
    this.reported.set(ns, plan.why)
    const what = `namespace ${ns} has deny-all coverage "${coverageLabel(plan.coverage)}"`
    if (plan.why === 'dry-run') {
      this.log.warn({ namespace: ns, coverage: coverageLabel(plan.coverage), dryRun: true },
        `netpol-guard dry-run: would create NetworkPolicy ${ns}/${this.config.policyName}: ${what}`)
      this.events.namespaceEvent(ns, 'Warning', 'NonCompliant',
        `${what}; netpol-guard (dry-run) would create NetworkPolicy ${this.config.policyName} denying all ingress and egress`)
    } else {
      this.log.warn({ namespace: ns, policy: this.config.policyName },
        `${what}; NetworkPolicy ${this.config.policyName} exists but does not deny all traffic, left untouched`)
      this.events.namespaceEvent(ns, 'Warning', 'DenyAllNameConflict',
        `${what}; NetworkPolicy ${ns}/${this.config.policyName} exists but does not deny all ingress and egress, and netpol-guard does not modify policies it did not create`)
    }
  }
}
