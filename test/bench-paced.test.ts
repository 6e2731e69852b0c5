// The bench's steady-rate load generator (bench/paced.ts, `npm run bench -- --rate R`): it sends exactly what the
// rate asks for, spread over the time rather than in bursts, and keeps sending while an answer is late (open loop).
import t from 'tap'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { pacedLoad, type PacedRequest } from '../bench/paced.js'
import { selfSignedServing } from '../src/tls/pki.js'

const MIX: PacedRequest[] = ['a', 'b', 'c'].map((p) => ({ path: `/${p}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ p }) }))

/**
 * An HTTPS server that notes when each request arrived; `answer` decides its status and how long it waits, or
 * that the connection is cut before the answer ('reset') or in the middle of it ('cut').
 */
async function recordingServer(t: { teardown(fn: () => unknown): void }, answer: (n: number) => { status: number; delayMs: number } | 'reset' | 'cut') {
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
      const { status, delayMs } = a
      const send = () => res.writeHead(status, { 'content-type': 'application/json' }).end('{}')
      if (delayMs > 0) setTimeout(send, delayMs)
      else send()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  server.keepAliveTimeout = 5000
  return { url: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`), arrivals }
}

t.test('rate × seconds requests, the mix in turn, each answer reported with its status', async (t) => {
  const { url, arrivals } = await recordingServer(t, (n) => ({ status: n % 10 === 9 ? 503 : 200, delayMs: 0 }))
  const seen: number[] = []
  const latencies: number[] = []
  const r = await pacedLoad(url, MIX, 4, 200, 1, (status, ms) => {
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
})

t.test('spread over the time, not sent in a burst', async (t) => {
  const { url, arrivals } = await recordingServer(t, () => ({ status: 200, delayMs: 0 }))
  await pacedLoad(url, MIX, 8, 100, 2, () => undefined)
  const first = arrivals[0]!.at
  const inFirstQuarter = arrivals.filter((a) => a.at - first < 250).length
  const inFirstSecond = arrivals.filter((a) => a.at - first < 1000).length
  // 25 and 100 at an even pace; a generator that sends each second's share at its start (as autocannon's rate
  // limit does) would have 100 in both.
  t.ok(inFirstQuarter >= 10 && inFirstQuarter <= 50, `${inFirstQuarter} of 200 requests arrived in the first 250 ms`)
  t.ok(inFirstSecond >= 60 && inFirstSecond <= 140, `${inFirstSecond} of 200 in the first second of two`)
})

t.test('open loop: requests issued while an answer is late wait for it, and their latency says so', async (t) => {
  // One connection, its first answer 500 ms late. The requests due meanwhile queue behind it; their latencies run
  // from when they were due, not from when the connection was free (a closed-loop client would report ~0 for them).
  const { url } = await recordingServer(t, (n) => ({ status: 200, delayMs: n === 0 ? 500 : 0 }))
  const latencies: number[] = []
  const r = await pacedLoad(url, MIX, 1, 50, 1, (_s, ms) => latencies.push(ms))
  t.equal(r.total, 50, 'all 50 answered')
  const waited = latencies.filter((ms) => ms >= 200).length
  // 50 req/s: 25 requests fall due during the 500 ms wait; the first 15 of them wait 200 ms or more
  t.ok(waited >= 10, `${waited} latencies of 200 ms or more`)
  t.ok(Math.max(...latencies) >= 450, 'the late answer itself')
})

t.test('a connection cut before or during an answer is an error, and the run still ends', async (t) => {
  const { url, arrivals } = await recordingServer(t, (n) => (n === 5 ? 'reset' : n === 7 ? 'cut' : { status: 200, delayMs: 0 }))
  const r = await pacedLoad(url, MIX, 4, 50, 1, () => undefined)
  t.equal(r.errors, 2, 'both counted as errors')
  t.equal(r.total, 48, 'the other 48 answered')
  t.equal(arrivals.length, 50)
})
