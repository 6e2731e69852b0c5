// `npm run certs`: the files it writes serve TLS to a client that trusts only ca.crt, for S.N.svc; rotation
// with the same CA and with a new CA; the Secret and the caBundle patch; clear errors and exit 2.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, createServer, type Server } from 'node:tls'
import type { AddressInfo } from 'node:net'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { Secret } from 'kubernetes-models/v1'
import { certsMain, WEBHOOK_CONFIGURATIONS } from '../certs-scripts/generate.js'
import { splitPemCertificates } from '../src/tls/ca.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const SERVICE = 'netpol-guard'
const NAMESPACE = 'netpol-guard'
const HOST = `${SERVICE}.${NAMESPACE}.svc`
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

const haveOpenssl = !spawnSync('openssl', ['version']).error
const haveKubectl = !spawnSync('kubectl', ['version', '--client']).error

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = ''
  let err = ''
  const code = certsMain(argv, { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } })
  return { code, out, err }
}

function tempDir(t: Any): string {
  const dir = mkdtempSync(join(tmpdir(), 'netpol-guard-certs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const read = (dir: string, f: string) => readFileSync(join(dir, f), 'utf8')

async function serve(t: Any, dir: string): Promise<number> {
  const server: Server = createServer({ cert: read(dir, 'tls.crt'), key: read(dir, 'tls.key') }, (s) => s.end('ok\n'))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return (server.address() as AddressInfo).port
}

/** Connects trusting only `ca`, verifying the name `servername`; resolves with the peer serial or rejects. */
function handshake(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const sock = connect({ host: '127.0.0.1', port, ca, servername, rejectUnauthorized: true }, () => {
      const serial = sock.getPeerCertificate().serialNumber
      sock.end()
      resolvePromise(serial)
    })
    sock.on('error', reject)
  })
}

function openssl(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' })
  return { status: r.status, out: r.stdout + r.stderr }
}

t.test('a new CA and a serving certificate for S.N.svc', async (t) => {
  const dir = tempDir(t)
  const r = run(['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE])
  t.equal(r.code, 0, r.err)
  for (const f of ['ca.crt', 'ca.key', 'tls.crt', 'tls.key', 'secret.yaml', 'cabundle-patch.yaml', 'kustomization.yaml']) t.ok(existsSync(join(dir, f)), `wrote ${f}`)
  for (const f of ['tls.key', 'ca.key', 'secret.yaml']) t.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`)

  const cert = new X509Certificate(read(dir, 'tls.crt'))
  const ca = new X509Certificate(read(dir, 'ca.crt'))
  t.ok(cert.verify(ca.publicKey), 'tls.crt is signed by ca.crt')
  t.ok(cert.checkIssued(ca), 'issued by the CA')
  t.ok(ca.ca && !cert.ca, 'CA is a CA, the serving certificate is not')
  t.same(cert.subjectAltName?.split(', ').sort(), [`DNS:${HOST}`, `DNS:${HOST}.cluster.local`], 'SANs: S.N.svc and S.N.svc.cluster.local')
  t.equal(cert.checkHost(HOST), HOST)

  const port = await serve(t, dir)
  const serial = await handshake(port, read(dir, 'ca.crt'), HOST)
  t.equal(serial, cert.serialNumber, `TLS handshake trusting only ca.crt, for ${HOST}`)
  t.equal(await handshake(port, read(dir, 'ca.crt'), `${HOST}.cluster.local`), cert.serialNumber, 'and for .cluster.local')
  await t.rejects(handshake(port, read(dir, 'ca.crt'), 'other.netpol-guard.svc'), /altnames|Hostname/i, 'another name is refused')
  // A different CA is not trusted.
  const other = tempDir(t)
  t.equal(run(['--out', other, '--service', SERVICE, '--namespace', NAMESPACE]).code, 0)
  await t.rejects(handshake(port, read(other, 'ca.crt'), HOST), /self.signed|unable to (get|verify)/i, 'a client trusting another CA refuses it')

  if (haveOpenssl) {
    const v = openssl(['verify', '-CAfile', join(dir, 'ca.crt'), '-verify_hostname', HOST, '-purpose', 'sslserver', join(dir, 'tls.crt')])
    t.equal(v.status, 0, `openssl verify: ${v.out.trim()}`)
    const text = openssl(['x509', '-in', join(dir, 'tls.crt'), '-noout', '-text']).out
    t.match(text, /TLS Web Server Authentication/, 'extendedKeyUsage serverAuth')
    t.match(text, /CA:FALSE/, 'basicConstraints CA:FALSE')
  } else t.comment('openssl not found: openssl checks skipped')

  // The Secret.
  const secret = parseYaml(read(dir, 'secret.yaml'))
  t.doesNotThrow(() => new Secret(secret).validate(), 'Secret validates')
  t.match(secret, { kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: 'netpol-guard-tls', namespace: NAMESPACE } })
  const dec = (k: string) => Buffer.from(secret.data[k], 'base64').toString('utf8')
  t.equal(dec('tls.crt'), read(dir, 'tls.crt'))
  t.equal(dec('tls.key'), read(dir, 'tls.key'))
  t.equal(dec('ca.crt'), read(dir, 'ca.crt'))

  // The caBundle patch names every webhook of both configurations.
  const docs = parseAllDocuments(read(dir, 'cabundle-patch.yaml')).map((d) => d.toJS())
  const bundle = Buffer.from(read(dir, 'ca.crt')).toString('base64')
  for (const c of Object.values(WEBHOOK_CONFIGURATIONS)) {
    const doc = docs.find((d) => d.kind === c.kind && d.metadata.name === c.name)
    t.ok(doc, `patch for ${c.kind}`)
    t.same(doc.webhooks.map((w: Any) => w.name), c.webhooks)
    t.ok(doc.webhooks.every((w: Any) => w.clientConfig.caBundle === bundle), `${c.kind}: caBundle = base64(ca.crt)`)
  }
})

t.test('the output directory is a kustomize Component: caBundle on every webhook, the Secret mounted', { skip: haveKubectl ? false : 'kubectl not found' }, async (t) => {
  const dir = tempDir(t)
  t.equal(run(['--out', join(dir, 'certs'), '--service', SERVICE, '--namespace', NAMESPACE]).code, 0)
  for (const overlay of ['overlays/enforce', 'overlays/dry-run']) {
    const overlayDir = join(dir, overlay.replace('/', '-'))
    spawnSync('mkdir', ['-p', overlayDir])
    writeFileSync(
      join(overlayDir, 'kustomization.yaml'),
      `resources:\n  - ${relative(overlayDir, join(ROOT, 'manifests', overlay))}\ncomponents:\n  - ../certs\n`,
    )
    const r = spawnSync('kubectl', ['kustomize', overlayDir], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
    const objs = parseAllDocuments(r.stdout).map((d) => d.toJS())
    const bundle = Buffer.from(read(join(dir, 'certs'), 'ca.crt')).toString('base64')
    let n = 0
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      const cfg = objs.find((o) => o.kind === kind)
      for (const wh of cfg.webhooks) {
        t.equal(wh.clientConfig.caBundle, bundle, `${overlay}: ${wh.name} has the caBundle`)
        t.ok(wh.clientConfig.service && wh.rules?.length, `${overlay}: ${wh.name} kept its settings (merged by name)`)
        n++
      }
    }
    t.equal(n, 5, 'all five webhooks')
    const secret = objs.find((o) => o.kind === 'Secret')
    const dep = objs.find((o) => o.kind === 'Deployment')
    t.ok(dep.spec.template.spec.volumes.some((v: Any) => v.secret?.secretName === secret.metadata.name), 'the Deployment mounts that Secret')
  }
})

t.test('rotation: a new serving certificate from the same CA', async (t) => {
  const dir = tempDir(t)
  t.equal(run(['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE]).code, 0)
  const oldCa = read(dir, 'ca.crt')
  const oldCert = new X509Certificate(read(dir, 'tls.crt'))
  const out = tempDir(t)
  const r = run(['--out', out, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key')])
  t.equal(r.code, 0, r.err)
  t.equal(read(out, 'ca.crt'), oldCa, 'ca.crt (and so caBundle) unchanged')
  t.notOk(existsSync(join(out, 'ca.key')), 'the CA key is not copied')
  const cert = new X509Certificate(read(out, 'tls.crt'))
  t.not(cert.serialNumber, oldCert.serialNumber, 'a new certificate')
  t.not(cert.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), oldCert.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'), 'with a new key')
  const port = await serve(t, out)
  t.equal(await handshake(port, oldCa, HOST), cert.serialNumber, 'a client that trusts the old ca.crt accepts it')
  // In place, in the same directory (the usual command), is fine too.
  const again = run(['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'ca.key')])
  t.equal(again.code, 0, again.err)
  t.equal(read(dir, 'ca.crt'), oldCa)
})

t.test('rotation: a new CA, ca.crt holds new and old', async (t) => {
  const old = tempDir(t)
  t.equal(run(['--out', old, '--service', SERVICE, '--namespace', NAMESPACE]).code, 0)
  const next = tempDir(t)
  const r = run(['--out', next, '--service', SERVICE, '--namespace', NAMESPACE, '--previous-ca', join(old, 'ca.crt')])
  t.equal(r.code, 0, r.err)
  const blocks = splitPemCertificates(read(next, 'ca.crt'))
  t.equal(blocks.length, 2, 'two CAs in the bundle')
  t.equal(blocks[1], splitPemCertificates(read(old, 'ca.crt'))[0], 'the old CA kept, after the new one')
  t.ok(new X509Certificate(read(next, 'tls.crt')).checkIssued(new X509Certificate(blocks[0]!)), 'signed by the new CA')
  const bundle = read(next, 'ca.crt')
  // While the API server has the bundle, both the old and the new serving certificate are trusted.
  t.ok(await handshake(await serve(t, old), bundle, HOST), 'old serving certificate trusted by the bundle')
  t.ok(await handshake(await serve(t, next), bundle, HOST), 'new serving certificate trusted by the bundle')
  if (haveOpenssl) t.equal(openssl(['verify', '-CAfile', join(next, 'ca.crt'), join(old, 'tls.crt'), join(next, 'tls.crt')]).status, 0, 'openssl verify: both against the bundle')
  // The next rotation from the new CA with the bundle file drops the old CA.
  const later = tempDir(t)
  t.equal(run(['--out', later, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(next, 'ca.crt'), '--ca-key', join(next, 'ca.key')]).code, 0)
  t.same(splitPemCertificates(read(later, 'ca.crt')), [blocks[0]], 'reusing the new CA: the bundle holds it only (the signing CA is the one matching the key)')
})

t.test('bad arguments and inputs: a clear message and exit 2', async (t) => {
  const dir = tempDir(t)
  t.equal(run(['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE]).code, 0)
  const cases: Array<[string, string[], RegExp]> = [
    ['no arguments', [], /missing --out, --service, --namespace/],
    ['missing --namespace', ['--out', dir, '--service', SERVICE], /missing --namespace/],
    ['unknown flag', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--nope'], /nope/],
    ['a positional', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, 'extra'], /extra|positional/i],
    ['bad service name', ['--out', dir, '--service', 'Net_Pol', '--namespace', NAMESPACE], /--service "Net_Pol" is not a valid Service name/],
    ['bad namespace', ['--out', dir, '--service', SERVICE, '--namespace', 'a.b'], /--namespace "a.b"/],
    ['--ca-cert without --ca-key', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'ca.crt')], /--ca-cert and --ca-key go together/],
    ['missing CA file', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'nope.crt'), '--ca-key', join(dir, 'ca.key')], /--ca-cert .*nope\.crt: cannot read: ENOENT/],
    ['key of another certificate', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'ca.crt'), '--ca-key', join(dir, 'tls.key')], /tls\.key does not belong to the certificate/],
    ['not a CA', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'tls.crt'), '--ca-key', join(dir, 'tls.key')], /is not a CA certificate/],
    ['not PEM', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--ca-cert', join(dir, 'kustomization.yaml'), '--ca-key', join(dir, 'ca.key')], /no PEM certificate/],
    ['bad --days', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE, '--days', 'ten'], /--days must be a whole number/],
    ['--previous-ca not a certificate', ['--out', tempDir(t), '--service', SERVICE, '--namespace', NAMESPACE, '--previous-ca', join(dir, 'tls.key')], /--previous-ca .*: no PEM certificate/],
    ['a new CA over an existing ca.key', ['--out', dir, '--service', SERVICE, '--namespace', NAMESPACE], /ca\.key exists: a new CA would replace it/],
  ]
  for (const [name, argv, re] of cases) {
    const r = run(argv)
    t.equal(r.code, 2, `${name}: exit 2`)
    t.match(r.err, re, `${name}: ${r.err.split('\n')[0]}`)
    t.match(r.err, /usage: npm run certs/, `${name}: usage shown`)
  }
  const help = run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /--previous-ca/)
})
