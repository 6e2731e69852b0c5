// The admission handler: turns a decoded AdmissionReview into a decision (pure), performs the side
// effects the decision asks for (injection, live verification), and builds the response.
// imported, not the global: in Node 20 globalThis.performance is a getter, run on every read
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { Decision, GuardConfig, Mode } from '../config.js'
import { decideMutation, type MutationOutcome } from '../decision/mutate.js'
import { decideValidation, type ValidationDecision } from '../decision/validate.js'
import type { AdmissionRequest } from '../k8s/types.js'
import type { Finding, RuleContext } from '../rules/rule.js'
import type { AdmissionMetrics } from '../server/metrics.js'
import type { ClusterView } from '../view/cluster-view.js'
import type { Injector, Verifier } from '../view/effects.js'
import { NamespaceOverlayView } from '../view/overlay-view.js'
import { DecisionLog, type DecisionFields } from './decision-log.js'
import {
  allowed,
  denied,
  patched,
  reviewResponse,
  warningLine,
  withAuditAnnotations,
  withWarnings,
  type AdmissionResponse,
  type AdmissionReview,
  type AdmissionReviewResponse,
} from './review.js'

export interface HandlerDeps {
  view: ClusterView
  config: GuardConfig
  logger: Logger
  metrics?: AdmissionMetrics
  injector?: Injector
  /** Live mode only: re-reads a namespace before a coverage denial. */
  verifier?: Verifier
  clock?: () => number
}

export const DRY_RUN_PREFIX = 'netpol-guard dry-run: would deny '

/** The msg of a decision's log line: one constant string per endpoint and decision, found without a keyed lookup. */
function logMessage(endpoint: 'validate' | 'mutate', decision: Decision): string {
  if (endpoint === 'validate') {
    return decision === 'allow' ? 'admission validate allow' : decision === 'deny' ? 'admission validate deny' : decision === 'warn' ? 'admission validate warn' : 'admission validate patch'
  }
  return decision === 'allow' ? 'admission mutate allow' : decision === 'deny' ? 'admission mutate deny' : decision === 'warn' ? 'admission mutate warn' : 'admission mutate patch'
}

// Rules whose verdict depends on a namespace's policies, and so on how fresh the view is.
const COVERAGE_RULES = new Set(['require-deny-all', 'protect-deny-all'])

/**
 * A refusal or a dry-run warning is a warning; a change made (the namespace label and its deny-all) or one that
 * dry-run only describes is info; an allowed request with nothing to say is debug. The apiserver's audit log and
 * netpol_guard_admission_requests_total already account for every allowed request, and in a busy cluster (a line
 * per Pod, per ReplicaSet scale-up...) those lines would be most of the log. LOG_LEVEL=debug shows them.
 * An allowance made without the coverage check (API server unreachable, failClosed off) is a warning.
 */
function logLevelOf(decision: Decision, outcome: MutationOutcome | undefined, note: string | undefined): 'warn' | 'info' | 'debug' {
  if (decision === 'deny' || decision === 'warn' || note) return 'warn'
  if (decision === 'patch' || outcome === 'dry-run' || outcome === 'request-dry-run') return 'info'
  return 'debug'
}

/** namespace/name; a Namespace is its name alone (the apiserver sets request.namespace to it as well). */
function target(req: AdmissionRequest): string {
  if (!req.namespace || (req.resource?.resource === 'namespaces' && req.resource.group === '')) return req.name ?? ''
  return `${req.namespace}/${req.name ?? ''}`
}

export class AdmissionHandler {
  private readonly clock: () => number
  private readonly log: DecisionLog

  constructor(private readonly deps: HandlerDeps) {
    this.clock = deps.clock ?? Date.now
    this.log = new DecisionLog(deps.logger)
  }

  /**
   * The answer to a /validate review. Synchronous unless a coverage denial has to be confirmed with the API server
   * first (live mode): most requests never wait for a promise.
   */
  validate(review: AdmissionReview): AdmissionReviewResponse | Promise<AdmissionReviewResponse> {
    const started = performance.now()
    const req = review.request
    const ctx: RuleContext = { request: req, view: this.deps.view, config: this.deps.config, now: this.clock() }
    const decision = decideValidation(ctx)
    if (this.deps.verifier && decision.findings.some((f) => COVERAGE_RULES.has(f.rule))) {
      return this.verify(ctx, decision).then((verified) => this.answerValidation(review, verified.decision, started, verified.note))
    }
    return this.answerValidation(review, decision, started)
  }

  private answerValidation(review: AdmissionReview, decision: ValidationDecision, started: number, verifyNote?: string): AdmissionReviewResponse {
    const req = review.request
    let res: AdmissionResponse
    let outcome: 'allow' | 'deny' | 'warn'
    const first = decision.findings[0]
    if (!first) {
      res = allowed(req.uid)
      outcome = 'allow'
    } else if (decision.mode === 'enforce') {
      res = denied(req.uid, first.message)
      outcome = 'deny'
    } else {
      res = withWarnings(allowed(req.uid), decision.findings.map((f) => warningLine(DRY_RUN_PREFIX + f.message)))
      res = withAuditAnnotations(res, {
        'dry-run-would-deny': decision.findings.map((f) => f.rule).join(','),
        'dry-run-message': first.message,
      })
      outcome = 'warn'
    }
    if (verifyNote) res = withWarnings(res, [warningLine(verifyNote)])
    this.record('validate', req, decision.mode, outcome, decision.findings, started, undefined, verifyNote)
    return reviewResponse(review.apiVersion, res)
  }

  mutate(review: AdmissionReview): AdmissionReviewResponse {
    const started = performance.now()
    const req = review.request
    const d = decideMutation(req, this.deps.view, this.deps.config)
    let res: AdmissionResponse = d.patch ? patched(req.uid, d.patch) : allowed(req.uid)
    if (d.wouldInject) res = withAuditAnnotations(res, { 'dry-run-would-inject': `NetworkPolicy ${d.wouldInject}/${this.deps.config.policyName}` })
    // Answer first, then schedule: the injector only records intent and works in the background.
    if (d.inject) this.deps.injector?.schedule(d.inject)
    this.record('mutate', req, d.mode, d.patch ? 'patch' : 'allow', [], started, d.outcome)
    return reviewResponse(review.apiVersion, res)
  }

  /** Re-reads the namespace from the API server before denying on coverage (live mode). */
  private async verify(ctx: RuleContext, decision: ValidationDecision): Promise<{ decision: ValidationDecision; note?: string }> {
    const ns = ctx.request.namespace
    if (!ns || !this.deps.verifier) return { decision }
    const result = await this.deps.verifier.namespacePolicies(ns, this.deps.config.verifyTimeoutMs)
    if (result.ok) {
      const view = new NamespaceOverlayView(ctx.view, ns, result.policies, result.terminating, result.namespace)
      const fresh = decideValidation({ ...ctx, view })
      const overturned = fresh.findings.length < decision.findings.length
      this.deps.metrics?.verifications.inc({ result: overturned ? 'overturned' : 'confirmed' })
      return { decision: fresh }
    }
    this.deps.metrics?.verifications.inc({ result: 'unreachable' })
    if (this.deps.config.failClosed) {
      const findings = decision.findings.map((f): Finding =>
        COVERAGE_RULES.has(f.rule)
          ? { ...f, message: `${f.message} (netpol-guard could not confirm this with the API server: ${result.reason}; failClosed is on)` }
          : f,
      )
      return { decision: { ...decision, findings } }
    }
    const findings = decision.findings.filter((f) => !COVERAGE_RULES.has(f.rule))
    return {
      decision: { ...decision, findings, allowed: findings.length === 0 || decision.mode === 'dry-run' },
      note: `netpol-guard: allowed without checking deny-all coverage of namespace ${ns}: the API server could not be reached (${result.reason}) and failClosed is off`,
    }
  }

  private record(
    endpoint: 'validate' | 'mutate',
    req: AdmissionRequest,
    mode: Mode,
    decision: Decision,
    findings: Finding[],
    started: number,
    outcome?: MutationOutcome,
    note?: string,
  ): void {
    // On every request: kept free of avoidable allocations (no spreads, no joins for the usual 0 or 1 finding).
    const seconds = (performance.now() - started) / 1e3
    // The rule that decided (the first finding); the log line lists all of them when there are several.
    const rule = findings.length === 0 ? 'none' : findings[0]!.rule
    this.deps.metrics?.observeDecision(endpoint, rule, decision, mode, seconds)
    const level = logLevelOf(decision, outcome, note)
    if (!this.log.enabled(level)) return
    const res = req.resource
    const line: DecisionFields = {
      uid: req.uid,
      operation: req.operation,
      resource: `${res?.group ? res.group + '/' : ''}${res?.resource ?? ''}${req.subResource ? '/' + req.subResource : ''}`,
      object: target(req),
      user: req.userInfo?.username,
      rule,
      decision,
      mode,
      ms: Math.round(seconds * 1e6) / 1e3,
    }
    if (req.dryRun === true) line.dryRun = true
    if (findings.length > 1) line.rules = findings.map((f) => f.rule)
    if (outcome) line.outcome = outcome
    if (findings.length > 0) line.message = findings[0]!.message
    if (note) line.note = note
    this.log.write(level, line, logMessage(endpoint, decision))
  }
}
