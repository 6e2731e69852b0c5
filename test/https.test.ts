// End to end over real HTTPS on loopback, with a client that trusts only the CA.
import t, { type Test } from 'tap'
import { request } from 'node:https'
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { BodyBudget } from '../src/server/body-reader.js'
import { generateCA, issueServingCert } from '../src/tls/pki.js'
import { waitFor } from './fake-apiserver.js'
import { example, testServer, type TestServerOptions } from './helpers/server.js'

function post(port: number, path: string, body: string, ca: string): Promise<{ status: number; body: string; authorized: boolean; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } },
      (res) => {
        let data = ''
        const authorized = (res.socket as any)?.authorized === true
        res.on('data', (d) => (data += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, authorized, headers: res.headers }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** The test server on a loopback port with a certificate from a test CA, closed when the test ends. */
async function listening(t: Test, opts: Omit<TestServerOptions, 'https'> = {}) {
  const ca = generateCA('test CA', 1)
  const serving = issueServingCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  const server = await testServer({ ...opts, https: serving })
  t.teardown(() => server.app.close())
  await server.app.listen({ host: '127.0.0.1', port: 0 })
  return { ...server, ca, port: (server.app.server.address() as AddressInfo).port }
}

t.test('HTTPS admission with a CA-only client', async (t) => {
  const { ca, port } = await listening(t)

  const review = example('pod-create-team-b.json')
  const res = await post(port, '/validate?timeout=10s', JSON.stringify(review), ca.cert)
  t.equal(res.status, 200)
  t.ok(res.authorized, 'server certificate verified against the CA')
  const body = JSON.parse(res.body)
  t.equal(body.response.uid, review.request.uid)
  t.equal(body.response.allowed, false)
  t.match(body.response.status.message, /^\[require-deny-all\] Pod team-b\/web-0/)

  const bad = await post(port, '/validate', '{nope', ca.cert)
  t.equal(bad.status, 400)
  const again = await post(port, '/validate', JSON.stringify(example('pod-create-team-a.json')), ca.cert)
  t.equal(JSON.parse(again.body).response.allowed, true, 'still serving after bad input')

  const otherCa = generateCA('someone else', 1)
  await t.rejects(post(port, '/validate', JSON.stringify(review), otherCa.cert), /self-signed|unable to verify|certificate/i, 'a client trusting another CA refuses the server')
})

/** Sends raw bytes over TLS and resolves with everything the server writes back before it closes the connection. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => socket.write(request))
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => (data += d))
    socket.on('close', () => resolve(data))
    socket.on('error', reject)
  })
}

function statusAndBody(raw: string): { status: number; body: any } {
  const [head, body] = raw.split('\r\n\r\n')
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(head!)?.[1]), body: JSON.parse(body!) }
}

t.test('requests that are not HTTP, or never arrive in full: one-line JSON 4xx, logged, counted, connection closed', async (t) => {
  const { ca, port, lines, metrics } = await listening(t, { requestTimeoutMs: 300 })
  const body = JSON.stringify(example('pod-create-team-a.json'))

  // A body shorter than its Content-Length: without a request timeout the connection would stay open for good.
  const truncated = statusAndBody(await rawExchange(port, `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 10}\r\n\r\n${body}`))
  t.equal(truncated.status, 408)
  t.same(truncated.body, { statusCode: 408, error: 'the request did not arrive in full within 0.3 s' })

  const badChunk = statusAndBody(await rawExchange(port, `POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`))
  t.equal(badChunk.status, 400)
  t.match(badChunk.body, { statusCode: 400, error: /^not a valid HTTP request \(HPE_/ })

  const bigHeaders = statusAndBody(await rawExchange(port, `POST /validate HTTP/1.1\r\nHost: localhost\r\nX-Padding: ${'x'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`))
  t.same(bigHeaders, { status: 431, body: { statusCode: 431, error: 'request headers are too large' } })

  // What Node would answer with an empty 417, or by closing the connection, unless the server takes it.
  const expect = statusAndBody(await rawExchange(port, `POST /validate HTTP/1.1\r\nHost: localhost\r\nExpect: foo\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`))
  t.same(expect, { status: 417, body: { statusCode: 417, error: 'Expect: foo is not supported (only 100-continue)' } })
  const connect = statusAndBody(await rawExchange(port, `CONNECT localhost:1 HTTP/1.1\r\nHost: localhost:1\r\n\r\n`))
  t.same(connect, { status: 405, body: { statusCode: 405, error: 'CONNECT is not supported: admission endpoints are POST /validate and POST /mutate' } })

  const codes = Object.fromEntries((await metrics.badRequests.get()).values.map((v) => [v.labels.code, v.value]))
  t.same(codes, { '400': 1, '405': 1, '408': 1, '417': 1, '431': 1 }, 'each counted by its code')
  t.equal(lines.filter((l) => l.msg === 'bad request').length, 5, 'and logged')
  // The server is still answering.
  const after = await post(port, '/validate', body, ca.cert)
  t.equal(after.status, 200)
})

/** What the server sent and how long the socket stayed open until the server closed it; fails at the deadline. */
function readUntilClosed(socket: Socket, openedAt: number, deadlineMs: number): Promise<{ ms: number; received: string }> {
  return new Promise((resolve, reject) => {
    let received = ''
    const timer = setTimeout(() => reject(new Error(`still open after ${deadlineMs} ms`)), deadlineMs)
    socket.on('error', () => {})
    // Reading is what notices the server's FIN: a paused socket would look open for good.
    socket.on('data', (d) => (received += d))
    socket.once('close', () => {
      clearTimeout(timer)
      resolve({ ms: Date.now() - openedAt, received })
    })
  })
}

t.test('a connection that sends nothing, or never finishes its TLS handshake, is closed once the request timeout has passed', async (t) => {
  const { ca, port, lines, metrics } = await listening(t, { requestTimeoutMs: 300 })

  // Connections that never speak must not pile up: Node would keep one that never starts TLS for 120 s.
  const openedAt = Date.now()
  const silent = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert })
  await new Promise<void>((resolve, reject) => silent.once('secureConnect', resolve).once('error', reject))
  const noHandshake = tcpConnect({ host: '127.0.0.1', port })
  const [quiet, plain] = await Promise.all([readUntilClosed(silent, openedAt, 10_000), readUntilClosed(noHandshake, openedAt, 10_000)])
  t.match(quiet.received, /^HTTP\/1\.1 408 /, `a TLS connection that sends nothing: a 408, closed after ${quiet.ms} ms`)
  t.ok(quiet.ms >= 300, 'not before the request timeout')
  t.equal(plain.received, '', 'a TCP connection that never starts TLS gets no plain-text answer')
  t.ok(plain.ms >= 300, `and is closed after the handshake timeout (${plain.ms} ms)`)
  t.same(
    lines
      .filter((l) => l.msg === 'bad request')
      .map((l) => l.error)
      .sort(),
    ['the TLS handshake did not complete within 0.3 s', 'the request did not arrive in full within 0.3 s'],
    'both logged',
  )
  const codes = Object.fromEntries((await metrics.badRequests.get()).values.map((v) => [v.labels.code, v.value]))
  t.same(codes, { '408': 2 }, 'and counted')

  // A client that keeps talking is not cut off: requests 100 ms apart on one connection, for longer than that.
  const body = JSON.stringify(example('pod-create-team-a.json'))
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert })
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => (received += d))
  const answers = () => received.split('HTTP/1.1 200 OK').length - 1
  for (let i = 1; i <= 12; i++) {
    socket.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    await new Promise<void>((resolve, reject) => {
      const closed = () => reject(new Error(`closed after ${answers()} answers`))
      const check = () => {
        if (answers() < i) return
        socket.off('data', check).off('close', closed)
        resolve()
      }
      socket.on('data', check).once('close', closed)
      check()
    })
    // The client's pause between requests (a keep-alive connection is idle between them).
    await new Promise((r) => setTimeout(r, 100))
  }
  t.equal(answers(), 12, 'twelve answers on one connection')
  t.notOk(socket.destroyed, 'and it is still open')
  socket.destroy()
})

t.test('connections over the limit are closed on arrival, counted and logged; the server goes on answering', async (t) => {
  const { ca, port, app, lines, metrics } = await listening(t, { maxConnections: 3 })
  const serverSide: Socket[] = []
  app.server.on('secureConnection', (s: Socket) => serverSide.push(s))
  const connect = () => tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert })
  const held = [connect(), connect(), connect()]
  for (const s of held) await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject))

  const over = connect()
  const outcome = await new Promise<string>((resolve) => {
    over.once('secureConnect', () => resolve('handshake completed'))
    over.once('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`))
  })
  t.match(outcome, /^error /, `the fourth connection is closed before its handshake (${outcome})`)
  t.equal((await metrics.connectionsDropped.get()).values[0]?.value, 1, 'counted')
  t.match(lines.find((l) => l.msg === 'connection limit reached: new connections are closed on arrival'), { level: 40, maxConnections: 3, dropped: 1 }, 'logged')

  // Once one is gone, a new client is served.
  held[0]!.destroy()
  await new Promise((resolve) => serverSide[0]!.once('close', resolve))
  const res = await post(port, '/validate', JSON.stringify(example('pod-create-team-a.json')), ca.cert)
  t.equal(res.status, 200)
  for (const s of held) s.destroy()
})

t.test('large bodies past the budget get a 429 while small reviews go on being answered; the budget comes back when they go', async (t) => {
  const budget = new BodyBudget(1024 * 1024)
  const { ca, port, lines } = await listening(t, { bodyBudget: budget })
  // A peer holds a large body that it sends slowly: 600 KiB of an announced 800 KiB.
  const slow = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.cert })
  await new Promise<void>((resolve, reject) => slow.once('secureConnect', resolve).once('error', reject))
  slow.on('error', () => {})
  slow.write(`POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${800 * 1024}\r\n\r\n`)
  slow.write(Buffer.alloc(600 * 1024, 0x20))
  t.ok(await waitFor(() => budget.held === 800 * 1024), 'its announced length is reserved')

  const review = example('pod-create-team-a.json')
  const small = await post(port, '/validate', JSON.stringify(review), ca.cert)
  t.equal(small.status, 200, 'a review of a few KiB is answered')

  // 500 KiB more would pass the 1 MiB budget: refused, with a Retry-After (read and dropped, so that the answer
  // reaches the client rather than a reset).
  const padded = { ...review, request: { ...review.request, object: { ...review.request.object, metadata: { ...review.request.object.metadata, annotations: { pad: 'x'.repeat(500 * 1024) } } } } }
  const large = await post(port, '/validate', JSON.stringify(padded), ca.cert)
  t.equal(large.status, 429)
  t.equal(large.headers['retry-after'], '1')
  t.match(JSON.parse(large.body), { statusCode: 429, error: /^too many large request bodies at once: .* at most 1 MiB .*retry shortly$/ })
  t.match(lines.find((l) => l.statusCode === 429), { msg: 'bad request', url: '/validate' }, 'logged as a refusal')

  slow.destroy()
  t.ok(await waitFor(() => budget.held === 0), 'the reservation of the body that was never finished is given back')
  const again = await post(port, '/validate', JSON.stringify(padded), ca.cert)
  t.equal(again.status, 200, 'the large review is answered now')
  t.equal(JSON.parse(again.body).response.allowed, true)
})

t.test('a large body denser than any Kubernetes object is refused unparsed (413)', async (t) => {
  const { ca, port } = await listening(t)
  const review = example('pod-create-team-a.json')
  // 1.5 MiB of {} in a list: parsed, each would be an object (~21 bytes of heap per byte of text).
  const dense = JSON.stringify({ ...review, request: { ...review.request, object: { ...review.request.object, spec: { items: [] } } } }).replace('"items":[]', `"items":[${Array(500_000).fill('{}').join(',')}]`)
  const res = await post(port, '/validate', dense, ca.cert)
  t.equal(res.status, 413)
  t.match(JSON.parse(res.body).error, /^request body is too dense to be a Kubernetes object: more than \d+ JSON objects and arrays in \d+ characters/)
  // A large review of ordinary density is answered.
  const ipBlocks = Array.from({ length: 40_000 }, (_, i) => ({ ipBlock: { cidr: `10.${(i >> 8) & 255}.${i & 255}.0/24` } }))
  const policy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'wide', namespace: 'team-a' }, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: ipBlocks }] } }
  const create = example('networkpolicy-create-allow-all.json')
  const big = JSON.stringify({ ...create, request: { ...create.request, namespace: 'team-a', name: 'wide', object: policy } })
  t.ok(big.length > 1024 * 1024, `the policy review is over 1 MiB (${big.length})`)
  const ok = await post(port, '/validate', big, ca.cert)
  t.equal(ok.status, 200)
  t.equal(JSON.parse(ok.body).response.allowed, true)
  // The densest part of real objects: server-side apply's managedFields, here of three managers, for a Deployment
  // with 3,000 environment variables, sent as an UPDATE (object and oldObject).
  const env = Array.from({ length: 3000 }, (_, i) => ({ name: `VAR_${i}`, value: `value-${i}` }))
  const envFields = Object.fromEntries(env.map((e) => [`k:{"name":"${e.name}"}`, { '.': {}, 'f:name': {}, 'f:value': {} }]))
  const fieldsV1 = { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"app"}': { '.': {}, 'f:env': envFields, 'f:image': {}, 'f:name': {} } } } } } }
  const managedFields = ['kubectl', 'helm', 'argocd'].map((manager) => ({ manager, operation: 'Apply', apiVersion: 'apps/v1', fieldsType: 'FieldsV1', fieldsV1 }))
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'big', namespace: 'team-a', managedFields }, spec: { template: { spec: { containers: [{ name: 'app', image: 'app:1', env }] } } } }
  const pod = example('pod-create-team-a.json')
  const update = { ...pod, request: { ...pod.request, kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, resource: { group: 'apps', version: 'v1', resource: 'deployments' }, name: 'big', operation: 'UPDATE', object: deployment, oldObject: deployment } }
  const managed = JSON.stringify(update)
  t.ok(managed.length > 1024 * 1024, `the Deployment review is over 1 MiB (${managed.length})`)
  const answered = await post(port, '/validate', managed, ca.cert)
  t.equal(answered.status, 200)
  t.equal(JSON.parse(answered.body).response.allowed, true)
})

t.test('a large body that parses into far more memory than its size is refused (413), and the server stays up', async (t) => {
  const { ca, port, lines } = await listening(t)
  const review = example('pod-create-team-a.json')
  const withItems = (items: string) => JSON.stringify({ ...review, request: { ...review.request, object: { ...review.request.object, spec: { items: [] } } } }).replace('"items":[]', `"items":[${items}]`)
  // 5 MiB of {"34":0}: one object per 9 bytes passes the density check, but V8 gives each a backing store for the
  // indexes 0–34, ~300 bytes: parsed in the server, more than the Deployment's 192 MiB heap (the process aborted).
  const costly = withItems(Array(600_000).fill('{"34":0}').join(','))
  t.ok(costly.length > 5 * 1024 * 1024)
  const heapBefore = process.memoryUsage().heapUsed
  const res = await post(port, '/validate', costly, ca.cert)
  t.equal(res.status, 413)
  t.match(JSON.parse(res.body), { statusCode: 413, error: /^request body takes more than 48 MiB of memory to parse, far more than a Kubernetes object of its size: not parsed$/ })
  t.ok(process.memoryUsage().heapUsed - heapBefore < 100 * 1024 * 1024, 'not parsed by the server itself')
  t.match(lines.find((l) => l.statusCode === 413), { msg: 'bad request', url: '/validate' })
  // Large bodies that are JSON errors, or start with a byte order mark, are answered as small ones are.
  const padded = withItems(Array(60_000).fill('"padding-padding"').join(','))
  t.ok(padded.length > 1024 * 1024)
  const truncated = await post(port, '/validate', padded.slice(0, -10), ca.cert)
  t.equal(truncated.status, 400)
  t.match(JSON.parse(truncated.body).error, /^body is not valid JSON: /)
  const bom = await post(port, '/validate', '\ufeff' + padded, ca.cert)
  t.equal(bom.status, 200)
  t.equal(JSON.parse(bom.body).response.allowed, true)
  const small = await post(port, '/validate', JSON.stringify(review), ca.cert)
  t.equal(JSON.parse(small.body).response.allowed, true, 'still serving')
})

t.test('a CONNECT is answered and its connection closed by the server, even if the peer never closes its side', async (t) => {
  const { port, app } = await listening(t)
  const serverSide: Socket[] = []
  app.server.on('secureConnection', (s: Socket) => serverSide.push(s))
  // allowHalfOpen: the client does not end its side when the server ends its own (a hostile peer would not).
  const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, allowHalfOpen: true } as any)
  t.teardown(() => socket.destroy())
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject))
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (d: string) => (received += d))
  socket.on('error', () => {})
  socket.write('CONNECT localhost:1 HTTP/1.1\r\nHost: localhost:1\r\n\r\n')
  t.ok(await waitFor(() => serverSide.length === 1 && serverSide[0]!.destroyed, 5000), 'the server-side socket is destroyed, not left half-open')
  t.match(received, /^HTTP\/1\.1 405 Method Not Allowed\r\n/)
})
