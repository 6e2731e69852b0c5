// Prometheus metrics of the admission path (prom-client). The live layer registers its own on the same registry.
import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import type { Decision, Mode } from '../config.js'

export interface AdmissionMetrics {
  registry: Registry
  requests: Counter<'endpoint' | 'rule' | 'decision' | 'mode'>
  duration: { observe(endpoint: 'validate' | 'mutate', seconds: number): void }
  badRequests: Counter<'code'>
  /** Connections closed on arrival because the server already holds its maximum (ServerOptions.maxConnections). */
  connectionsDropped: Counter
  verifications: Counter<'result'>
  /** One admission decision: counted and timed (this runs on every request; see PendingDecisions). */
  observeDecision(endpoint: 'validate' | 'mutate', rule: string, decision: Decision, mode: Mode, seconds: number): void
}

const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5] as const
type Endpoint = 'validate' | 'mutate'

/**
 * netpol_guard_admission_duration_seconds: a Prometheus histogram by endpoint, counted in typed arrays on the
 * request path and exposed through the registry as prom-client's own histograms are (same series, same order).
 * prom-client's Histogram.observe() validates and hashes the label set on every call; over the few constant label
 * values here that costs more than finding the bucket.
 */
class DurationHistogram {
  readonly name = 'netpol_guard_admission_duration_seconds'
  readonly help = 'Time from request body parsed to answer built'
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  /** Per endpoint: the count of each bucket (not cumulative; the last slot is above the largest bound), then sum and count. */
  private readonly buckets = { validate: new Float64Array(DURATION_BUCKETS.length + 1), mutate: new Float64Array(DURATION_BUCKETS.length + 1) }
  private readonly sums = { validate: 0, mutate: 0 }
  private readonly counts = { validate: 0, mutate: 0 }
  /** Endpoints in the order of their first observation: the order prom-client lists label sets in. */
  private readonly seen: Endpoint[] = []

  observe(endpoint: Endpoint, seconds: number): void {
    if (!Number.isFinite(seconds)) return
    let i = 0
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++
    this.buckets[endpoint][i]!++
    this.sums[endpoint] += seconds
    if (this.counts[endpoint]++ === 0) this.seen.push(endpoint)
  }

  /** What the registry reads at each scrape (and for getMetricsAsJSON). */
  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = []
    for (const endpoint of this.seen) {
      let cumulative = 0
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += this.buckets[endpoint][i]!
        values.push({ labels: { le: DURATION_BUCKETS[i]!, endpoint }, value: cumulative, metricName: `${this.name}_bucket` })
      }
      values.push({ labels: { le: '+Inf', endpoint }, value: this.counts[endpoint], metricName: `${this.name}_bucket` })
      values.push({ labels: { endpoint }, value: this.sums[endpoint], metricName: `${this.name}_sum` })
      values.push({ labels: { endpoint }, value: this.counts[endpoint], metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset(): void {
    this.seen.length = 0
    for (const endpoint of ['validate', 'mutate'] as const) {
      this.buckets[endpoint].fill(0)
      this.sums[endpoint] = 0
      this.counts[endpoint] = 0
    }
  }
}

/**
 * Decisions seen since the last scrape, kept in plain numbers on the request path and handed to prom-client in one
 * loop when it collects (before each exposition): prom-client's inc() rebuilds, validates and hashes the label set
 * on every call, which costs more than the rest of an allowed decision.
 */
class PendingDecisions {
  /** rule → counts since the last scrape, one slot per endpoint, decision and mode (slotOf). One lookup per request. */
  private readonly counts = new Map<string, Float64Array>()

  constructor(private readonly requests: Counter<'endpoint' | 'rule' | 'decision' | 'mode'>) {}

  add(endpoint: Endpoint, rule: string, decision: Decision, mode: Mode): void {
    let byRule = this.counts.get(rule)
    if (!byRule) this.counts.set(rule, (byRule = new Float64Array(SLOTS.length)))
    byRule[slotOf(endpoint, decision, mode)]!++
  }

  flushCounts(): void {
    for (const [rule, byRule] of this.counts)
      for (let i = 0; i < SLOTS.length; i++) {
        const n = byRule[i]!
        if (n === 0) continue
        const { endpoint, decision, mode } = SLOTS[i]!
        this.requests.inc({ endpoint, rule, decision, mode }, n)
        byRule[i] = 0
      }
  }
}

const DECISIONS: readonly Decision[] = ['allow', 'deny', 'warn', 'patch']
const MODES: readonly Mode[] = ['enforce', 'dry-run']

/** Every label set but the rule's, in slot order. */
const SLOTS = (['validate', 'mutate'] as const).flatMap((endpoint) => DECISIONS.flatMap((decision) => MODES.map((mode) => ({ endpoint, decision, mode }))))

/** The slot of a label set in SLOTS: comparisons of constant strings, not keyed lookups (megamorphic with 16 keys). */
function slotOf(endpoint: Endpoint, decision: Decision, mode: Mode): number {
  const d = decision === 'allow' ? 0 : decision === 'deny' ? 1 : decision === 'warn' ? 2 : 3
  return (endpoint === 'validate' ? 0 : DECISIONS.length * MODES.length) + d * MODES.length + (mode === 'enforce' ? 0 : 1)
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
  const pending: PendingDecisions = new PendingDecisions(requests)
  const duration = new DurationHistogram()
  // A metric of our own making: the registry only asks it for get() (and reset()), as it does prom-client's.
  registry.registerMetric(duration as unknown as Metric)
  return {
    registry,
    requests,
    duration,
    observeDecision(endpoint, rule, decision, mode, seconds) {
      pending.add(endpoint, rule, decision, mode)
      duration.observe(endpoint, seconds)
    },
    badRequests: new Counter({
      name: 'netpol_guard_bad_requests_total',
      help: 'Requests refused with a 4xx before any decision (malformed, wrong content type, too large)',
      labelNames: ['code'],
      registers: [registry],
    }),
    connectionsDropped: new Counter({
      name: 'netpol_guard_connections_dropped_total',
      help: 'Connections closed on arrival because this replica already holds its maximum of open connections',
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
