// End to end over real HTTPS on loopback, with a client that trusts only the CA.
import t from 'tap'
import { request } from 'node:https'
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
