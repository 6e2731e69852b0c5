// The bench's steady-rate load generator (bench/paced.ts, `npm run bench -- --rate R`): it sends exactly what the
// rate asks for, spread over the time rather than in bursts, keeps sending while an answer is late (open loop),
// and counts what goes wrong. Every run has a deadline.
import t from 'tap'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { pacedAgent, pacedLoad, type OnResponse, type PacedRequest } from '../bench/paced.js'
import { selfSignedServing } from '../src/tls/pki.js'
import { deadline } from './helpers/serve-child.js'

const MIX: PacedRequest[] = ['a', 'b', 'c'].map((p) => ({ path: `/${p}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ p }) }))

type Answer = { status: number; delayMs: number } | 'reset' | 'cut'

/**
 * An HTTPS server that notes when each request arrived; `answer` decides its status and how long it waits, or
 * that the connection is cut before the answer ('reset') or in the middle of it ('cut').
 */
async function recordingServer(t: { teardown(fn: () => unknown): void }, answer: (n: number) => Answer) {
  const tls = selfSignedServing(['localhost'])
  const arrivals: { at: number; path: string }[] = []
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const n = arrivals.length
    arrivals.push({ at: performance.now(), path: req.url ?? '' })
    req.resume()
    req.on('end', () => {
      const a = answer(n)
      if (a === 'reset') return void req.socket.destroy()
      if (a === 'cut') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' }).write('{"half":')
        return void setTimeout(() => req.socket.destroy(), 20)
      }
      const send = () => res.writeHead(a.status, { 'content-type': 'application/json' }).end('{}')
      if (a.delayMs > 0) setTimeout(send, a.delayMs)
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  server.keepAliveTimeout = 5000
  const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)
  /** One paced run over its own agent, within a deadline. */
  const run = (connections: number, rate: number, seconds: number, onResponse: OnResponse = () => undefined) => {
    const agent = pacedAgent(connections)
    return deadline(`paced run at ${rate}/s for ${seconds} s`, 30_000 + seconds * 1000, pacedLoad(url, MIX, agent, rate, seconds, onResponse)).finally(() => agent.destroy())
  }
  let handshakes = 0
  server.on('secureConnection', () => handshakes++)
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { run, arrivals, url, handshakes: () => handshakes }
}

t.test('rate × seconds requests, the mix in turn, each answer reported with its status', async (t) => {
  const { run, arrivals } = await recordingServer(t, (n) => ({ status: n % 10 === 9 ? 503 : 200, delayMs: 0 }))
  const seen: number[] = []
  const latencies: number[] = []
  const r = await run(4, 200, 1, (status, ms) => {
    seen.push(status)
    latencies.push(ms)
  })
  t.ok(latencies.every((ms) => ms >= 0 && ms < 10_000), 'each with a latency in ms')
  t.equal(r.total, 200, 'every request answered')
  t.equal(arrivals.length, 200, 'and no more sent')
  t.equal(r.errors, 0)
  t.equal(r.non2xx, 20, 'the 503s are counted as non-2xx')
  t.equal(seen.filter((s) => s === 503).length, 20)
  const count = (p: string) => arrivals.filter((a) => a.path === p).length
  t.same([count('/a'), count('/b'), count('/c')], [67, 67, 66], 'the mix, cycled')
  t.ok(r.duration >= 0.9, `took the second it was asked for (${r.duration.toFixed(2)} s)`)
  t.ok(r.lag && r.lag.max >= r.lag.p99 && r.lag.p99 >= 0, `the generator's lag is reported (p99 ${r.lag?.p99.toFixed(2)} ms, max ${r.lag?.max.toFixed(2)})`)
})

t.test('spread over the time, not sent in a burst', async (t) => {
  const { run, arrivals } = await recordingServer(t, () => ({ status: 200, delayMs: 0 }))
  await run(8, 100, 2)
  // At an even 100 req/s a 100 ms window holds ~10 requests; a generator that sends each second's share at its
  // start (as autocannon's rate limit does) puts ~100 in one. A stall of the host makes a catch-up of what fell due
  // meanwhile: 60 in one window would need a stall of half a second.
  const at = arrivals.map((a) => a.at).sort((x, y) => x - y)
  let busiest = 0
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= 100) j++
    busiest = Math.max(busiest, i - j + 1)
  }
  t.equal(at.length, 200)
  t.ok(busiest <= 60, `at most ${busiest} of the 200 requests arrived within any 100 ms`)
})

t.test('open loop: requests issued while an answer is late wait for it, and their latency says so', async (t) => {
  // One connection, its first answer 500 ms late. The requests issued meanwhile queue behind it; their latencies run
  // from when they were issued, not from when the connection was free (a closed-loop client would report ~0 for them).
  const { run } = await recordingServer(t, (n) => ({ status: 200, delayMs: n === 0 ? 500 : 0 }))
  const latencies: number[] = []
  const r = await run(1, 50, 1, (_s, ms) => latencies.push(ms))
  t.equal(r.total, 50, 'all 50 answered')
  const waited = latencies.filter((ms) => ms >= 200).length
  // 50 req/s: 25 requests fall due during the 500 ms wait; the first 15 of them wait 200 ms or more
  t.ok(waited >= 10, `${waited} latencies of 200 ms or more`)
  t.ok(Math.max(...latencies) >= 450, 'the late answer itself')
})

t.test('a connection cut before or during an answer is an error, and the run still ends', async (t) => {
  const { run, arrivals } = await recordingServer(t, (n) => (n === 5 ? 'reset' : n === 7 ? 'cut' : { status: 200, delayMs: 0 }))
  const r = await run(4, 50, 1)
  t.equal(r.errors, 2, 'both counted as errors')
  t.equal(r.total, 48, 'the other 48 answered')
  t.equal(arrivals.length, 50)
})

t.test('an agent outlives a run: the next run reuses its connections, with no new TLS handshake', async (t) => {
  const { url, handshakes } = await recordingServer(t, () => ({ status: 200, delayMs: 0 }))
  const agent = pacedAgent(2)
  t.teardown(() => agent.destroy())
  const once = () => deadline('paced run', 30_000, pacedLoad(url, MIX, agent, 50, 0.5, () => undefined))
  t.equal((await once()).total, 25)
  const afterFirst = handshakes()
  t.ok(afterFirst >= 1 && afterFirst <= 2, `the first run made ${afterFirst} connection(s), at most the agent's 2`)
  t.equal((await once()).total, 25)
  t.equal(handshakes(), afterFirst, 'the second run made none')
})
