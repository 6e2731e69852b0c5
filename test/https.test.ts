// End to end over real HTTPS on loopback, with a client that trusts only the CA.
import t from 'tap'
import { request } from 'node:https'
import { connect as tlsConnect } from 'node:tls'
import { generateCA, issueServingCert } from '../src/tls/pki.js'
import { example, testServer } from './helpers/server.js'

function post(port: number, path: string, body: string, ca: string): Promise<{ status: number; body: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', ca, servername: 'localhost', headers: { 'content-type': 'application/json' } },
      (res) => {
        let data = ''
        const authorized = (res.socket as any)?.authorized === true
        res.on('data', (d) => (data += d))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data, authorized }))
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

t.test('HTTPS admission with a CA-only client', async (t) => {
  const ca = generateCA('test CA', 1)
  const serving = issueServingCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  const { app } = await testServer({ https: serving })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as any).port

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
  const ca = generateCA('test CA', 1)
  const serving = issueServingCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  const { app, lines, metrics } = await testServer({ https: serving, requestTimeoutMs: 300 })
  t.teardown(() => app.close())
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as any).port
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

  const codes = Object.fromEntries((await metrics.badRequests.get()).values.map((v) => [v.labels.code, v.value]))
  t.same(codes, { '400': 1, '408': 1, '431': 1 }, 'each counted by its code')
  t.equal(lines.filter((l) => l.msg === 'bad request').length, 3, 'and logged')
  // The server is still answering.
  const after = await post(port, '/validate', body, ca.cert)
  t.equal(after.status, 200)
})
