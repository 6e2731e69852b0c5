// CertificateReloader under load: a real HTTPS server on 127.0.0.1 whose certificate files are replaced the
// way the kubelet updates a mounted Secret (an atomic swap of the `..data` symlink). Clients that trust only
// the CA keep sending requests throughout; none may fail, and new connections must see the new certificate.
import t from 'tap'
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { generateCA, issueServingCert, type KeyPairPem } from '../src/tls/pki.js'
import { CertificateReloader, type CertificatePair } from '../src/tls/reloader.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const serialOf = (pem: string) => new X509Certificate(pem).serialNumber

const ca = generateCA('reload-test CA', 1)
const issue = () => issueServingCert(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 })
const pairA = issue()
const pairB = issue()
const pairC = issue()

/** A directory laid out like a Secret volume: tls.crt -> ..data/tls.crt, ..data -> ..<version>. */
class SecretVolume {
  private n = 0
  constructor(readonly dir: string) {}
  get certFile() {
    return join(this.dir, 'tls.crt')
  }
  get keyFile() {
    return join(this.dir, 'tls.key')
  }
  /** Writes a new version directory and swaps ..data to it atomically (rename over the old link). */
  publish(files: { cert: string; key: string }): void {
    const version = `..2026_11_27_${String(++this.n).padStart(3, '0')}`
    mkdirSync(join(this.dir, version))
    writeFileSync(join(this.dir, version, 'tls.crt'), files.cert)
    writeFileSync(join(this.dir, version, 'tls.key'), files.key)
    symlinkSync(version, join(this.dir, '..data_tmp'))
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'))
    if (this.n === 1) {
      symlinkSync(join('..data', 'tls.crt'), this.certFile)
      symlinkSync(join('..data', 'tls.key'), this.keyFile)
    }
  }
}

function volume(t: Any): SecretVolume {
  const dir = mkdtempSync(join(tmpdir(), 'netpol-guard-reload-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return new SecretVolume(dir)
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

async function startServer(t: Any, initial: CertificatePair): Promise<{ server: Server; port: number; inFlight: () => number }> {
  let inFlight = 0
  const server = createServer({ cert: initial.cert, key: initial.key }, (req, res) => {
    inFlight++
    const delay = Number(new URL(req.url ?? '/', 'https://x').searchParams.get('delay') ?? '5')
    setTimeout(() => {
      inFlight--
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok')
    }, delay)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })
  return { server, port: (server.address() as AddressInfo).port, inFlight: () => inFlight }
}

interface Result {
  ok: boolean
  serial?: string
  error?: string
  reused?: boolean
}

function get(port: number, agent: Agent | false, delay = 5): Promise<Result> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: `/?delay=${delay}`, method: 'GET', agent, ca: ca.cert, rejectUnauthorized: true },
      (res) => {
        const sock = res.socket as TLSSocket
        const serial = sock.getPeerCertificate().serialNumber
        const reused = sock.isSessionReused()
        res.resume()
        res.on('end', () => resolve({ ok: res.statusCode === 200, serial, reused }))
        res.on('error', (e) => resolve({ ok: false, error: e.message }))
      },
    )
    req.on('error', (e) => resolve({ ok: false, error: e.message }))
    req.end()
  })
}

t.test('constructor: reads now, and names the file when it cannot', async (t) => {
  const v = volume(t)
  t.throws(() => new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: () => {} }), { message: new RegExp(`TLS certificate ${v.certFile}: cannot read: ENOENT`) })
  v.publish({ cert: 'not a certificate', key: pairA.key })
  t.throws(() => new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: () => {} }), { message: new RegExp(`TLS certificate ${v.certFile}: not a valid PEM certificate`) })
  v.publish({ cert: pairA.cert, key: 'garbage' })
  t.throws(() => new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: () => {} }), { message: new RegExp(`TLS key ${v.keyFile}: not a valid PEM private key`) })
  // A passphrase-protected key: OpenSSL only says "interrupted or cancelled"; the message says what it is.
  const encrypted = createPrivateKey(pairA.key).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string
  v.publish({ cert: pairA.cert, key: encrypted })
  t.throws(() => new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: () => {} }), { message: new RegExp(`TLS key ${v.keyFile}: the key is encrypted \\(passphrase-protected\\); give it unencrypted`) })
  v.publish({ cert: pairA.cert, key: pairB.key })
  t.throws(() => new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: () => {} }), { message: new RegExp(`^TLS key ${v.keyFile} does not match certificate ${v.certFile} \\(serial [0-9A-F]+\\)$`) })
  v.publish(pairA)
  const r = new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: () => {} })
  t.same(r.current(), pairA, 'current() is the pair on disk')
  t.equal(r.check(), false, 'no change, no switch')
})

t.test('check(): switches only to a complete, matching pair; reports each problem once', async (t) => {
  const v = volume(t)
  v.publish(pairA)
  const changes: string[] = []
  const errors: string[] = []
  const r = new CertificateReloader({ certFile: v.certFile, keyFile: v.keyFile, onChange: (p) => changes.push(serialOf(p.cert)), onError: (e) => errors.push(e.message) })
  // Written in place, one file at a time (as cp would): the cert is new, the key still old.
  v.publish({ cert: pairB.cert, key: pairA.key })
  t.equal(r.check(), false, 'a mismatched pair is not used')
  t.equal(r.check(), false, 'still not')
  t.equal(errors.length, 1, 'reported once, not at every poll')
  t.match(errors[0], /does not match certificate/)
  t.same(r.current(), pairA, 'the old pair stays in use')
  v.publish(pairB)
  t.equal(r.check(), true, 'the complete pair is used')
  t.same(changes, [serialOf(pairB.cert)])
  t.same(r.current(), pairB)
  // The files disappear (Secret deleted): keep serving the pair we have.
  rmSync(join(v.dir, '..data'))
  t.equal(r.check(), false)
  t.match(errors.at(-1), /cannot read: ENOENT/)
  t.same(r.current(), pairB)
  // A server that refuses the pair (setSecureContext throws): not adopted, reported.
  writeFileSync(join(v.dir, 'x.crt'), pairA.cert)
  writeFileSync(join(v.dir, 'x.key'), pairA.key)
  const refusing = new CertificateReloader({
    certFile: join(v.dir, 'x.crt'),
    keyFile: join(v.dir, 'x.key'),
    onChange: () => {
      throw new Error('bad context')
    },
    onError: (e) => errors.push(e.message),
  })
  writeFileSync(join(v.dir, 'x.crt'), pairC.cert)
  writeFileSync(join(v.dir, 'x.key'), pairC.key)
  t.equal(refusing.check(), false)
  t.match(errors.at(-1), /refused by the server: bad context/)
  t.same(refusing.current(), pairA)
})

t.test('symlink swap under load: no failed request, new connections get the new certificate', async (t) => {
  const v = volume(t)
  v.publish(pairA)
  const changes: string[] = []
  const errors: string[] = []
  let server: Server | undefined
  const reloader = new CertificateReloader({
    certFile: v.certFile,
    keyFile: v.keyFile,
    intervalMs: 25,
    onChange: (pair) => {
      server!.setSecureContext(pair)
      changes.push(serialOf(pair.cert))
    },
    onError: (e) => errors.push(e.message),
  })
  const s = await startServer(t, reloader.current())
  server = s.server
  reloader.start()
  t.teardown(() => reloader.stop())

  const keepAlive = new Agent({ keepAlive: true, maxSockets: 2, ca: ca.cert })
  t.teardown(() => keepAlive.destroy())
  const results: Array<Result & { at: number; fresh: boolean }> = []
  let running = true
  const worker = async (fresh: boolean) => {
    while (running) {
      const r = await get(s.port, fresh ? false : keepAlive)
      results.push({ ...r, at: Date.now(), fresh })
    }
  }
  const workers = [worker(true), worker(true), worker(false), worker(false)]

  await sleep(200)
  // Requests in flight across the swap (slow answers on both kinds of connection).
  const slowFresh = get(s.port, false, 600)
  const slowKept = get(s.port, keepAlive, 600)
  await sleep(50)
  t.ok(s.inFlight() >= 2, 'slow requests are in flight')

  // A torn update first (new cert, old key), then the real one; then another rotation.
  v.publish({ cert: pairB.cert, key: pairA.key })
  await sleep(150)
  t.same(changes, [], 'a mismatched pair is not switched to')
  t.ok(errors.some((e) => /does not match/.test(e)), 'and reported')
  const swappedAt = Date.now()
  v.publish(pairB)
  for (let i = 0; i < 100 && changes.length === 0; i++) await sleep(10)
  t.same(changes, [serialOf(pairB.cert)], 'switched to B')
  await sleep(300)
  v.publish(pairC)
  for (let i = 0; i < 100 && changes.length === 1; i++) await sleep(10)
  t.same(changes, [serialOf(pairB.cert), serialOf(pairC.cert)], 'and to C')
  await sleep(300)

  const [sf, sk] = await Promise.all([slowFresh, slowKept])
  running = false
  await Promise.all(workers)

  t.ok(sf.ok && sk.ok, `requests in flight during the swaps completed (${sf.error ?? 'ok'}, ${sk.error ?? 'ok'})`)
  t.equal(sf.serial, serialOf(pairA.cert), 'on the certificate they started with')
  const failed = results.filter((r) => !r.ok)
  t.equal(failed.length, 0, `no failed request out of ${results.length}${failed.length ? ': ' + failed[0]!.error : ''}`)
  t.ok(results.length > 100, `${results.length} requests sent`)
  const fresh = results.filter((r) => r.fresh)
  const serials = new Set(fresh.map((r) => r.serial))
  t.ok(serials.has(serialOf(pairA.cert)) && serials.has(serialOf(pairB.cert)) && serials.has(serialOf(pairC.cert)), 'fresh connections saw A, then B, then C')
  const lastFresh = fresh.at(-1)!
  t.equal(lastFresh.serial, serialOf(pairC.cert), 'the last new connection sees the newest certificate')
  const freshAfterB = fresh.filter((r) => r.at > swappedAt + 200 && r.serial === serialOf(pairA.cert))
  t.equal(freshAfterB.length, 0, 'no new connection gets the old certificate once switched')
  // A brand-new connection now.
  const now = await get(s.port, false)
  t.equal(now.serial, serialOf(pairC.cert))
  t.comment(`requests: ${results.length}, fresh: ${fresh.length}, keep-alive: ${results.length - fresh.length}, errors reported: ${errors.length}`)
})
