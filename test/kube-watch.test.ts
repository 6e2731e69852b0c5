// The raw streams the live view reads from the API server (kube-http.ts, kube-watch.ts), against a loopback HTTP
// server that answers whatever each test writes: events split across writes, lines that are not events, an event or
// a list page past the size bound, non-200 answers, streams cut off.
import t, { type Test } from 'tap'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ApiException, KubeConfig } from '@kubernetes/client-node'
import { MAX_RESPONSE_CHARS, ResponseTooLargeError } from '../src/live/kube-http.js'
import { KubeWatch, MalformedWatchEventError } from '../src/live/kube-watch.js'
import { listChunk } from '../src/live/live-view.js'
import { retryAfterMs, statusCode } from '../src/live/kube.js'
import { waitFor } from './fake-apiserver.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

async function serve(t: Test, handler: Handler): Promise<{ kc: KubeConfig; requests: string[] }> {
  const requests: string[] = []
  const srv = createServer((req, res) => {
    requests.push(req.url ?? '')
    handler(req, res)
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    srv.closeAllConnections()
    srv.close()
  })
  const kc = new KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  })
  return { kc, requests }
}

interface Watched {
  events: [string, unknown][]
  done: Promise<unknown>
}

function watch(w: KubeWatch, query = {}): Watched {
  const events: [string, unknown][] = []
  let resolveDone!: (err: unknown) => void
  const done = new Promise<unknown>((r) => (resolveDone = r))
  void w.watch('/api/v1/namespaces', query, (type, obj) => events.push([type, obj]), resolveDone)
  return { events, done }
}

const ns = (name: string, rv: string) => JSON.stringify({ type: 'ADDED', object: { kind: 'Namespace', metadata: { name, resourceVersion: rv } } })

t.test('events split across writes arrive whole and in order; a clean end is done(null)', async (t) => {
  const { kc, requests } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const text = ns('a', '2') + '\n' + ns('b', '3') + '\r\n\n' + ns('c', '4') + '\n'
    // one byte at a time for the first event, then the rest in two pieces
    for (let i = 0; i < 40; i++) res.write(text[i])
    res.write(text.slice(40, 100))
    res.end(text.slice(100))
  })
  const w = watch(new KubeWatch(kc), { resourceVersion: '1', allowWatchBookmarks: true, timeoutSeconds: 10 })
  t.equal(await w.done, null)
  t.same(
    w.events.map(([type, o]) => [type, (o as any).metadata.name]),
    [['ADDED', 'a'], ['ADDED', 'b'], ['ADDED', 'c']],
  )
  t.match(requests[0], /^\/api\/v1\/namespaces\?/)
  const q = new URL(requests[0]!, 'http://x').searchParams
  t.equal(q.get('watch'), 'true')
  t.equal(q.get('resourceVersion'), '1')
  t.equal(q.get('allowWatchBookmarks'), 'true')
  t.equal(q.get('timeoutSeconds'), '10')
})

t.test('the kubeconfig credentials are sent', async (t) => {
  let auth: string | undefined
  const { kc } = await serve(t, (req, res) => {
    auth = req.headers.authorization
    res.writeHead(200).end()
  })
  t.equal(await watch(new KubeWatch(kc)).done, null)
  t.equal(auth, 'Bearer secret-token')
})

t.test('a line that is not JSON ends the watch with an error, after the events before it and none after', async (t) => {
  const { kc } = await serve(t, (_req, res) => {
    res.writeHead(200)
    res.write(ns('a', '2') + '\n' + ns('b', '3').slice(0, 30) + '\n')
    // the server goes on, but the watch has ended: what follows the bad line is not delivered
    res.end(ns('c', '4') + '\n')
  })
  const w = watch(new KubeWatch(kc))
  const err = await w.done
  t.type(err, MalformedWatchEventError)
  t.match((err as Error).message, /not JSON/)
  t.same(w.events.map(([, o]) => (o as any).metadata.name), ['a'])
})

t.test('JSON that is not an event ends the watch too', async (t) => {
  for (const line of ['null', '[]', '"text"', '{"object":{}}', '{"type":7}']) {
    const { kc } = await serve(t, (_req, res) => {
      res.writeHead(200)
      res.end(line + '\n')
    })
    const w = watch(new KubeWatch(kc))
    t.type(await w.done, MalformedWatchEventError, line)
    t.same(w.events, [])
  }
})

t.test('a stream that ends or is cut in the middle of an event is an error, not a clean end', async (t) => {
  const { kc: ended } = await serve(t, (_req, res) => {
    res.writeHead(200)
    res.end(ns('a', '2') + '\n' + ns('b', '3'))
  })
  const w = watch(new KubeWatch(ended))
  t.match(String(await w.done), /middle of an event/)
  t.same(w.events.map(([, o]) => (o as any).metadata.name), ['a'], 'the partial event is not delivered')

  const { kc: cut } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.write(ns('a', '2') + '\n', () => res.destroy())
  })
  const w2 = watch(new KubeWatch(cut))
  t.ok((await w2.done) instanceof Error, 'a dropped connection is an error')
  t.equal(w2.events.length, 1)
})

t.test('an event over the size bound ends the watch before it is held in full', async (t) => {
  const { kc } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.write(ns('a', '2') + '\n')
    // an endless line: the watch must stop reading it
    const chunk = 'x'.repeat(64 * 1024)
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump)
    }
    res.on('error', () => undefined)
    pump()
  })
  const w = watch(new KubeWatch(kc, 1024 * 1024))
  const err = await w.done
  t.type(err, ResponseTooLargeError)
  t.match((err as Error).message, /watch event .* larger than 1048576 characters/)
  t.equal(w.events.length, 1)
})

t.test('a non-200 answer is an ApiException with the status, the Status body and the headers', async (t) => {
  const { kc } = await serve(t, (_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3' })
    res.end(JSON.stringify({ kind: 'Status', code: 429, message: 'too many requests, slow down' }))
  })
  const err = await watch(new KubeWatch(kc)).done
  t.type(err, ApiException)
  t.equal(statusCode(err), 429)
  t.match((err as ApiException<string>).body, /slow down/)
  t.equal(retryAfterMs(err), 3000)
})

t.test('a server that cannot be reached: the error reaches onDone', async (t) => {
  const kc = new KubeConfig()
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' })
  const err = await watch(new KubeWatch(kc)).done
  t.match(err, { code: 'ECONNREFUSED' })
})

t.test('abort: no more events and no onDone', async (t) => {
  const { kc } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'transfer-encoding': 'chunked' })
    res.write(ns('a', '2') + '\n')
  })
  const events: string[] = []
  let doneCalls = 0
  let aborted!: () => void
  const first = new Promise<void>((r) => (aborted = r))
  const handle = await new KubeWatch(kc).watch(
    '/api/v1/namespaces',
    {},
    (type) => {
      events.push(type)
      aborted()
    },
    () => doneCalls++,
  )
  await first
  handle.abort()
  await new Promise((r) => setImmediate(r))
  t.same(events, ['ADDED'])
  t.equal(doneCalls, 0)
})

t.test('retryAfterMs: only whole seconds, capped at 10 minutes; from the header or a Status in a watch ERROR', async (t) => {
  t.equal(retryAfterMs({ retryAfterSeconds: 4 }), 4000)
  t.equal(retryAfterMs({ retryAfterSeconds: 1.5, headers: { 'retry-after': '2' } }), 2000)
  const e = (v: unknown) => ({ headers: { 'retry-after': v } })
  t.equal(retryAfterMs(e('2')), 2000)
  t.equal(retryAfterMs(e(' 7 ')), 7000)
  t.equal(retryAfterMs(e('99999')), 600_000)
  t.equal(retryAfterMs(e('Wed, 21 Oct 2015 07:28:00 GMT')), undefined)
  t.equal(retryAfterMs(e('-1')), undefined)
  t.equal(retryAfterMs({}), undefined)
  t.equal(retryAfterMs(null), undefined)
})

t.test('listChunk: a page over the size bound is a ResponseTooLargeError, never an uncaught exception', async (t) => {
  const { kc } = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    res.on('error', () => undefined)
    res.write('{"items":[')
    const chunk = ' '.repeat(1024 * 1024)
    let sent = 0
    const pump = (): void => {
      while (!res.destroyed && sent < MAX_RESPONSE_CHARS + 4 * 1024 * 1024) {
        sent += chunk.length
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      if (!res.destroyed) res.end(']}')
    }
    pump()
  })
  const err = await listChunk(kc, '/api/v1/namespaces', { limit: 500 }, 30_000, (o) => o).catch((e: unknown) => e)
  t.type(err, ResponseTooLargeError)
  t.match(err, { message: /a page of \/api\/v1\/namespaces is larger than 16777216 characters/ })
})

t.test('listChunk: a non-200 answer is an ApiException; a page cut off is an error; a slow one times out', async (t) => {
  const { kc, requests } = await serve(t, (req, res) => {
    if (req.url!.includes('continue=gone')) {
      res.writeHead(410, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired', message: 'the continue token has expired' }))
    } else if (req.url!.includes('continue=cut')) {
      res.writeHead(200, { 'transfer-encoding': 'chunked' })
      res.write('{"items":[', () => res.destroy())
    } else if (req.url!.includes('continue=slow')) {
      res.writeHead(200, { 'transfer-encoding': 'chunked' })
      res.write('{"items":[')
    } else {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ metadata: { resourceVersion: '9', continue: 'next' }, items: [{ metadata: { name: 'a' } }, 'junk', { metadata: { name: 'b' } }] }))
    }
  })
  const page = await listChunk(kc, '/api/v1/namespaces', { limit: 2 }, 5000, (o) => o.metadata?.name)
  t.same(page, { items: ['a', 'b'], resourceVersion: '9', continue: 'next' })
  t.match(requests[0], /limit=2/)
  const gone = await listChunk(kc, '/api/v1/namespaces', { limit: 2, continue: 'gone' }, 5000, (o) => o).catch((e: unknown) => e)
  t.equal(statusCode(gone), 410)
  t.match((gone as ApiException<string>).body, /expired/)
  await t.rejects(listChunk(kc, '/api/v1/namespaces', { continue: 'cut' }, 5000, (o) => o), /connection closed|aborted/)
  await t.rejects(listChunk(kc, '/api/v1/namespaces', { continue: 'slow' }, 300, (o) => o), /within 300 ms/)
})

t.test('a connection reset while a watch or a list page is being read is an error for it, not for the process', async (t) => {
  const { kc } = await serve(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    res.write(req.url!.includes('watch=true') ? ns('a', '2') + '\n' : '{"items":[', () => req.socket.resetAndDestroy())
  })
  const w = watch(new KubeWatch(kc))
  t.match(await w.done, { code: 'ECONNRESET' })
  t.equal(w.events.length, 1)
  const err = await listChunk(kc, '/api/v1/namespaces', {}, 5000, (o) => o).catch((e: unknown) => e)
  t.match(err, { code: 'ECONNRESET' })
})

t.test('nothing is left open: a list that times out before its headers, a refused watch whose body never ends', async (t) => {
  const open = new Set<IncomingMessage>()
  const { kc } = await serve(t, (req, res) => {
    open.add(req)
    req.socket.on('close', () => open.delete(req))
    // headers never come for lists; a watch is refused with a 500 whose body never ends
    if (req.url!.includes('watch=true')) {
      res.writeHead(500, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
      res.write('{"kind":"Status",')
    }
  })
  await t.rejects(listChunk(kc, '/api/v1/namespaces', {}, 200, (o) => o), /within 200 ms/)
  t.ok(await waitFor(() => open.size === 0, 2000), 'the timed-out list request was closed')
  const events: string[] = []
  let done = false
  const handle = await new KubeWatch(kc).watch('/api/v1/namespaces', {}, (type) => events.push(type), () => (done = true))
  t.equal(open.size, 1)
  handle.abort()
  t.ok(await waitFor(() => open.size === 0, 2000), 'the refused watch was closed')
  t.equal(done, false, 'aborted: no onDone')
})
