// Admission metrics: decisions are counted in plain numbers on the request path and handed to prom-client on
// scrape; what /metrics shows must be exactly what happened.
import t from 'tap'
import { createMetrics } from '../src/server/metrics.js'

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

t.test('counts and durations survive batching, across scrapes', async (t) => {
  const m = createMetrics(undefined, false)
  // more than one duration batch (4096) between two scrapes
  for (let i = 0; i < 5000; i++) m.observeDecision('validate', 'none', 'allow', 'enforce', 0.00002)
  for (let i = 0; i < 7; i++) m.observeDecision('validate', 'require-deny-all', 'deny', 'enforce', 0.0003)
  m.observeDecision('mutate', 'none', 'patch', 'enforce', 0.002)
  let text = await m.registry.metrics()
  t.equal(sample(text, 'netpol_guard_admission_requests_total{endpoint="validate",rule="none",decision="allow",mode="enforce"}'), 5000)
  t.equal(sample(text, 'netpol_guard_admission_requests_total{endpoint="validate",rule="require-deny-all",decision="deny",mode="enforce"}'), 7)
  t.equal(sample(text, 'netpol_guard_admission_requests_total{endpoint="mutate",rule="none",decision="patch",mode="enforce"}'), 1)
  t.equal(sample(text, 'netpol_guard_admission_duration_seconds_count{endpoint="validate"}'), 5007)
  t.equal(sample(text, 'netpol_guard_admission_duration_seconds_bucket{le="0.0001",endpoint="validate"}'), 5000)
  t.equal(sample(text, 'netpol_guard_admission_duration_seconds_bucket{le="0.0005",endpoint="validate"}'), 5007)
  t.ok(Math.abs(sample(text, 'netpol_guard_admission_duration_seconds_sum{endpoint="validate"}')! - (5000 * 0.00002 + 7 * 0.0003)) < 1e-9)
  t.equal(sample(text, 'netpol_guard_admission_duration_seconds_count{endpoint="mutate"}'), 1)

  // a second scrape with nothing new shows the same; then new decisions add up
  text = await m.registry.metrics()
  t.equal(sample(text, 'netpol_guard_admission_requests_total{endpoint="validate",rule="none",decision="allow",mode="enforce"}'), 5000, 'not counted twice')
  t.equal(sample(text, 'netpol_guard_admission_duration_seconds_count{endpoint="validate"}'), 5007)
  m.observeDecision('validate', 'none', 'allow', 'dry-run', 0.00002)
  m.observeDecision('validate', 'none', 'allow', 'enforce', 0.00002)
  text = await m.registry.metrics()
  t.equal(sample(text, 'netpol_guard_admission_requests_total{endpoint="validate",rule="none",decision="allow",mode="enforce"}'), 5001)
  t.equal(sample(text, 'netpol_guard_admission_requests_total{endpoint="validate",rule="none",decision="allow",mode="dry-run"}'), 1)
  t.equal(sample(text, 'netpol_guard_admission_duration_seconds_count{endpoint="validate"}'), 5009)
})

t.test('the JSON view of the registry sees pending decisions too', async (t) => {
  const m = createMetrics(undefined, false)
  m.observeDecision('validate', 'no-global-policy', 'deny', 'enforce', 0.0001)
  const json = await m.registry.getMetricsAsJSON()
  const requests = json.find((x) => x.name === 'netpol_guard_admission_requests_total')!
  t.same(requests.values.map((v) => [v.labels, v.value]), [[{ endpoint: 'validate', rule: 'no-global-policy', decision: 'deny', mode: 'enforce' }, 1]])
})
