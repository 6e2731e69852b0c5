// Prometheus metrics of the admission path (prom-client). The live layer registers its own on the same registry.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface AdmissionMetrics {
  registry: Registry
  requests: Counter<'endpoint' | 'rule' | 'decision' | 'mode'>
  duration: Histogram<'endpoint'>
  badRequests: Counter<'code'>
  verifications: Counter<'result'>
  /** One admission decision: counted and timed (this runs on every request; see PendingDecisions). */
  observeDecision(endpoint: 'validate' | 'mutate', rule: string, decision: string, mode: string, seconds: number): void
}

const DURATION_BATCH = 4096

/**
 * Decisions seen since the last scrape, kept in plain numbers on the request path and handed to prom-client in one
 * loop when it collects (before each exposition), or when a batch is full: prom-client's inc() and observe()
 * rebuild, validate and hash the label set on every call, which costs more than the rest of an allowed decision.
 */
class PendingDecisions {
  /** endpoint → rule → decision → mode → count; label values are a handful of constant strings. */
  private readonly counts = new Map<string, Map<string, Map<string, Map<string, number>>>>()
  private readonly durations = { validate: new Float64Array(DURATION_BATCH), mutate: new Float64Array(DURATION_BATCH) }
  private readonly waiting = { validate: 0, mutate: 0 }

  constructor(
    private readonly requests: Counter<'endpoint' | 'rule' | 'decision' | 'mode'>,
    private readonly duration: Histogram<'endpoint'>,
  ) {}

  add(endpoint: 'validate' | 'mutate', rule: string, decision: string, mode: string, seconds: number): void {
    let byRule = this.counts.get(endpoint)
    if (!byRule) this.counts.set(endpoint, (byRule = new Map()))
    let byDecision = byRule.get(rule)
    if (!byDecision) byRule.set(rule, (byDecision = new Map()))
    let byMode = byDecision.get(decision)
    if (!byMode) byDecision.set(decision, (byMode = new Map()))
    byMode.set(mode, (byMode.get(mode) ?? 0) + 1)
    this.durations[endpoint][this.waiting[endpoint]++] = seconds
    if (this.waiting[endpoint] === DURATION_BATCH) this.flushDurations(endpoint)
  }

  flushCounts(): void {
    for (const [endpoint, byRule] of this.counts)
      for (const [rule, byDecision] of byRule)
        for (const [decision, byMode] of byDecision)
          for (const [mode, n] of byMode) {
            if (n === 0) continue
            this.requests.inc({ endpoint, rule, decision, mode }, n)
            byMode.set(mode, 0)
          }
  }

  flushDurations(endpoint: 'validate' | 'mutate'): void {
    const n = this.waiting[endpoint]
    if (n === 0) return
    const child = this.duration.labels(endpoint)
    const values = this.durations[endpoint]
    for (let i = 0; i < n; i++) child.observe(values[i]!)
    this.waiting[endpoint] = 0
  }
}

export function createMetrics(registry = new Registry(), withDefaults = true): AdmissionMetrics {
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'netpol_guard_' })
  // `pending` is created below, once the metrics it feeds exist; collect() runs only at a scrape, after that.
  const requests = new Counter({
    name: 'netpol_guard_admission_requests_total',
    help: 'Admission decisions by endpoint, rule (none when no rule matched), decision (allow, deny, warn, patch) and mode',
    labelNames: ['endpoint', 'rule', 'decision', 'mode'] as const,
    registers: [registry],
    collect: (): void => pending.flushCounts(),
  })
  const duration = new Histogram({
    name: 'netpol_guard_admission_duration_seconds',
    help: 'Time from request body parsed to answer built',
    labelNames: ['endpoint'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5],
    registers: [registry],
    collect: (): void => {
      pending.flushDurations('validate')
      pending.flushDurations('mutate')
    },
  })
  const pending: PendingDecisions = new PendingDecisions(requests, duration)
  return {
    registry,
    requests,
    duration,
    observeDecision(endpoint, rule, decision, mode, seconds) {
      pending.add(endpoint, rule, decision, mode, seconds)
    },
    badRequests: new Counter({
      name: 'netpol_guard_bad_requests_total',
      help: 'Requests refused with a 4xx before any decision (malformed, wrong content type, too large)',
      labelNames: ['code'],
      registers: [registry],
    }),
    verifications: new Counter({
      name: 'netpol_guard_verifications_total',
      help: 'Live reads of a namespace before a coverage denial, by result (confirmed, overturned, unreachable)',
      labelNames: ['result'],
      registers: [registry],
    }),
  }
}
