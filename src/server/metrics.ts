// Prometheus metrics of the admission path (prom-client). The live layer registers its own on the same registry.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface AdmissionMetrics {
  registry: Registry
  requests: Counter<'endpoint' | 'rule' | 'decision' | 'mode'>
  duration: Histogram<'endpoint'>
  badRequests: Counter<'code'>
  verifications: Counter<'result'>
  /** One admission decision: counted and timed (label children cached: this runs on every request). */
  observeDecision(endpoint: 'validate' | 'mutate', rule: string, decision: string, mode: string, seconds: number): void
}

export function createMetrics(registry = new Registry(), withDefaults = true): AdmissionMetrics {
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'netpol_guard_' })
  const requests = new Counter({
    name: 'netpol_guard_admission_requests_total',
    help: 'Admission decisions by endpoint, rule (none when no rule matched), decision (allow, deny, warn, patch) and mode',
    labelNames: ['endpoint', 'rule', 'decision', 'mode'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'netpol_guard_admission_duration_seconds',
    help: 'Time from request body parsed to answer built',
    labelNames: ['endpoint'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5],
    registers: [registry],
  })
  const counters = new Map<string, { inc(): void }>()
  const timers = { validate: duration.labels('validate'), mutate: duration.labels('mutate') }
  return {
    registry,
    requests,
    duration,
    observeDecision(endpoint, rule, decision, mode, seconds) {
      const key = `${endpoint} ${rule} ${decision} ${mode}`
      let c = counters.get(key)
      if (!c) counters.set(key, (c = requests.labels(endpoint, rule, decision, mode)))
      c.inc()
      timers[endpoint].observe(seconds)
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
