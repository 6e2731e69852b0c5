// Soak: a fixed-rate load (300 req/s by default) over real HTTPS for SOAK_SECONDS (default 60) against the guard
// built in-process as `serve --state` builds it (1000 generated namespaces, info logging to a discarded stream,
// metrics on): no errors, no non-2xx, and RSS after the run within 10% of RSS after the warm-up (both sampled
// after a full GC, median of several samples). SOAK_RATE changes the rate.
import t from 'tap'
import autocannon from 'autocannon'
import { randomUUID } from 'node:crypto'
import { openSync, closeSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { pino } from 'pino'
import { AdmissionHandler } from '../src/admission/handler.js'
import { defaultConfig } from '../src/config.js'
import { RecordingInjector } from '../src/serve.js'
import { buildServer } from '../src/server/app.js'
import { BatchedLogStream } from '../src/server/log-stream.js'
import { createMetrics } from '../src/server/metrics.js'
import { selfSignedServing } from '../src/tls/pki.js'
import { viewFromObjects } from '../src/view/state-file.js'
import { generateState, requestMix } from '../bench/workload.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60)
const RATE = Number(process.env.SOAK_RATE ?? 300)
const WARMUP_SECONDS = Math.max(2, Math.min(10, Math.round(SECONDS / 6)))
t.setTimeout((SECONDS + WARMUP_SECONDS + 90) * 1000)

function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) return g
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}
const gc = gcFunction()

async function rssAfterGc(samples = 5): Promise<number> {
  const values: number[] = []
  for (let i = 0; i < samples; i++) {
    gc()
    // let finalizers and freed pages settle between samples
    await new Promise((r) => setImmediate(r))
    gc()
    values.push(process.memoryUsage().rss)
    await new Promise((r) => setTimeout(r, 100))
  }
  values.sort((a, b) => a - b)
  return values[values.length >> 1]!
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`

t.test(`soak: ${RATE} req/s for ${SECONDS} s over HTTPS`, async (t) => {
  const { view } = viewFromObjects(generateState(1000).items as never, 'generated')
  const config = defaultConfig()
  // Logging on at info, as served, into a stream that goes nowhere (what is kept is the guard's, not the test's).
  const devnull = openSync('/dev/null', 'w')
  t.teardown(() => closeSync(devnull))
  const logger = pino({ level: 'info', base: { app: 'netpol-guard' } }, new BatchedLogStream(devnull))
  const metrics = createMetrics()
  const handler = new AdmissionHandler({ view, config, logger, metrics, injector: new RecordingInjector(view) })
  const app = await buildServer({ handler, logger, metrics, status: { ready: () => true }, https: selfSignedServing(['localhost']) })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0

  // Every request gets a fresh uid, as the apiserver sends (autocannon's idReplacement does not work with a
  // list of requests; setupRequest does).
  const requests = requestMix(1000).map((m) => ({
    method: 'POST' as const,
    path: `${m.path}?timeout=10s`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...m.review, request: { ...m.review.request, uid: '__UID__' } }),
    setupRequest: (req: any) => ({ ...req, body: String(req.body).replace('__UID__', randomUUID()) }),
  }))
  const load = (seconds: number) =>
    autocannon({ url: `https://127.0.0.1:${port}`, servername: 'localhost', connections: 8, overallRate: RATE, duration: seconds, requests, timeout: 10 })

  const warm = await load(WARMUP_SECONDS)
  t.equal(warm.errors + warm.timeouts + warm.non2xx, 0, `warm-up: ${warm.requests.total} requests, no errors`)
  const rssStart = await rssAfterGc()
  const { heapUsed: heapStart, external: externalStart } = process.memoryUsage()

  const trend: string[] = []
  const sampler = setInterval(() => trend.push(mib(process.memoryUsage().rss)), Math.max(1000, (SECONDS * 1000) / 12))
  const started = Date.now()
  const r = await load(SECONDS)
  clearInterval(sampler)
  const elapsed = (Date.now() - started) / 1000
  const rssEnd = await rssAfterGc()
  const { heapUsed: heapEnd, external: externalEnd } = process.memoryUsage()

  t.equal(r.errors, 0, 'no connection errors')
  t.equal(r.timeouts, 0, 'no timeouts')
  t.equal(r.non2xx, 0, 'no non-2xx answers')
  const expected = RATE * SECONDS
  t.ok(r.requests.total >= expected * 0.9, `held the rate: ${r.requests.total} requests in ${elapsed.toFixed(1)} s (${(r.requests.total / elapsed).toFixed(0)}/s, target ${RATE}/s)`)
  const growth = (rssEnd - rssStart) / rssStart
  t.ok(growth < 0.1, `RSS ${mib(rssStart)} after warm-up → ${mib(rssEnd)} after the run: ${(growth * 100).toFixed(1)}% (limit 10%)`)
  t.comment(`latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms; heap ${mib(heapStart)} → ${mib(heapEnd)}, external ${mib(externalStart)} → ${mib(externalEnd)}; RSS during the run: ${trend.join(', ')}`)
})
