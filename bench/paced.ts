// A steady-rate load generator for `npm run bench -- --rate R` (open loop: requests go out on schedule).
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { performance } from 'node:perf_hooks'

/** One request of the mix, as autocannon takes it too. */
export interface PacedRequest {
  path: string
  headers: Record<string, string>
  body: string
}

/** What driving a server for a while gives: answers, non-2xx answers, connection errors and timeouts, seconds. */
export interface LoadResult {
  total: number
  non2xx: number
  errors: number
  duration: number
  /** pacedLoad only: how late the generator issued requests (ms after they fell due), p99 and worst. */
  lag?: { p99: number; max: number }
}

export type OnResponse = (status: number, ms: number) => void

/** Keep-alive connections to a server on loopback (self-signed certificate), at most `connections` at a time. */
export function pacedAgent(connections: number): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, maxSockets: connections, rejectUnauthorized: false, servername: 'localhost' })
}

/**
 * A steady `rate` of requests for `seconds`, open loop: each request is issued when it falls due, over the agent's
 * keep-alive connections, whether or not earlier ones have been answered. (autocannon's own rate limit sends each
 * connection's share of a second in a burst at the start of it, so its latencies measure the queue it builds, p99
 * ~200 ms at 500 req/s here, not the server.) A request's latency runs from when it was issued, a wait for a free
 * connection included, to the end of its answer. A timer that fires late issues what has fallen due at once; that
 * lateness is left out of the latencies (it is the generator's, and would blur the sub-millisecond differences
 * measured here) and reported as `lag` instead, so that a run where it was large can be told apart. The agent is
 * the caller's, so that its connections (and their TLS handshakes) can outlive one run.
 */
export async function pacedLoad(url: URL, mix: PacedRequest[], agent: HttpsAgent, rate: number, seconds: number, onResponse: OnResponse): Promise<LoadResult> {
  let total = 0
  let non2xx = 0
  let errors = 0
  let pending = 0
  let issued = 0
  const started = performance.now()
  const due = Math.floor(rate * seconds)
  const lags = new Float64Array(due)
  await new Promise<void>((resolveAll) => {
    const finished = () => {
      if (issued === due && pending === 0) resolveAll()
    }
    const issue = () => {
      const m = mix[issued % mix.length]!
      const t0 = performance.now()
      lags[issued] = t0 - (started + (issued / rate) * 1000)
      issued++
      pending++
      // Each request ends once: with its answer, or with an error before or during it (a reset mid-answer is
      // reported on the response, not the request).
      let settled = false
      const settle = (status: number | undefined) => {
        if (settled) return
        settled = true
        pending--
        if (status === undefined) errors++
        else {
          total++
          if (status < 200 || status >= 300) non2xx++
          onResponse(status, performance.now() - t0)
        }
        finished()
      }
      const req = httpsRequest({ host: url.hostname, port: url.port, path: m.path, method: 'POST', agent, headers: { ...m.headers, 'content-length': Buffer.byteLength(m.body) } }, (res) => {
        res.resume()
        res.on('end', () => settle(res.statusCode ?? 0))
        res.on('error', () => settle(undefined))
      })
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')))
      req.on('error', () => settle(undefined))
      req.end(m.body)
    }
    const tick = () => {
      const dueNow = Math.min(due, Math.floor(((performance.now() - started) / 1000) * rate) + 1)
      while (issued < dueNow) issue()
      if (issued < due) setTimeout(tick, Math.max(0, (issued / rate) * 1000 - (performance.now() - started)))
      else finished()
    }
    tick()
  })
  lags.sort()
  const lag = { p99: lags[Math.max(0, Math.ceil(due * 0.99) - 1)] ?? 0, max: lags[due - 1] ?? 0 }
  return { total, non2xx, errors, duration: (performance.now() - started) / 1000, lag }
}

