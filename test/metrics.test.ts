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

t.test('every label set is counted under its own series', async (t) => {
  const m = createMetrics(undefined, false)
  const sets: { endpoint: 'validate' | 'mutate'; rule: string; decision: 'allow' | 'deny' | 'warn' | 'patch'; mode: 'enforce' | 'dry-run' }[] = []
  for (const endpoint of ['validate', 'mutate'] as const)
    for (const rule of ['none', 'no-global-policy', 'require-deny-all'])
      for (const decision of ['allow', 'deny', 'warn', 'patch'] as const)
        for (const mode of ['enforce', 'dry-run'] as const) sets.push({ endpoint, rule, decision, mode })
  // a different count for each set: a set counted under another's series shows as a wrong number
  sets.forEach((s, i) => {
    for (let k = 0; k <= i; k++) m.observeDecision(s.endpoint, s.rule, s.decision, s.mode, 0.0001)
  })
  const text = await m.registry.metrics()
  sets.forEach((s, i) => {
    t.equal(sample(text, `netpol_guard_admission_requests_total{endpoint="${s.endpoint}",rule="${s.rule}",decision="${s.decision}",mode="${s.mode}"}`), i + 1, JSON.stringify(s))
  })
  t.equal(text.split('\n').filter((l) => l.startsWith('netpol_guard_admission_requests_total{')).length, sets.length, 'no other series')
})

t.test('the JSON view of the registry sees pending decisions too', async (t) => {
  const m = createMetrics(undefined, false)
  m.observeDecision('validate', 'no-global-policy', 'deny', 'enforce', 0.0001)
  const json = await m.registry.getMetricsAsJSON()
  const requests = json.find((x) => x.name === 'netpol_guard_admission_requests_total')!
  t.same(requests.values.map((v) => [v.labels, v.value]), [[{ endpoint: 'validate', rule: 'no-global-policy', decision: 'deny', mode: 'enforce' }, 1]])
})

t.test('the duration histogram is exposed exactly as a prom-client Histogram fed the same values', async (t) => {
  const { Histogram, Registry } = await import('prom-client')
  const m = createMetrics(undefined, false)
  const reference = new Registry()
  const h = new Histogram({
    name: 'netpol_guard_admission_duration_seconds',
    help: 'Time from request body parsed to answer built',
    labelNames: ['endpoint'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 2.5],
    registers: [reference],
  })
  // every bucket, the bounds themselves (le is inclusive), above the largest, zero
  const values = [0, 0.00005, 0.0001, 0.0001000001, 0.00025, 0.0007, 0.001, 0.002, 0.004, 0.009, 0.03, 0.1, 0.5, 1, 2, 2.5, 3, 60]
  for (const [k, v] of values.entries()) {
    const endpoint = k % 3 === 0 ? 'mutate' : 'validate'
    m.observeDecision(endpoint, 'none', 'allow', 'enforce', v)
    h.labels(endpoint).observe(v)
  }
  const block = (text: string): string =>
    text
      .split('\n')
      .filter((l) => l.includes('netpol_guard_admission_duration_seconds'))
      .join('\n')
  const ours = block(await m.registry.metrics())
  t.ok(ours.includes('_bucket{le="+Inf",endpoint="validate"}'), 'has series')
  t.equal(ours, block(await reference.metrics()))
  // the JSON form too (labels merged, as prom-client's get() gives them)
  const json = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'netpol_guard_admission_duration_seconds')!
  const refJson = (await reference.getMetricsAsJSON())[0]!
  t.same(
    json.values.map((v) => [v.labels, v.value]),
    refJson.values.map((v) => [v.labels, v.value]),
  )
  // a value that is not a number is not counted (prom-client would throw on the request path)
  m.observeDecision('validate', 'none', 'allow', 'enforce', Number.NaN)
  t.equal(block(await m.registry.metrics()), block(await reference.metrics()))
  m.registry.resetMetrics()
  t.notOk(block(await m.registry.metrics()).includes('_count'), 'reset empties it')
})
