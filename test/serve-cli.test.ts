// `serve` refuses bad startup input with exit code 2 and a message naming the file and the problem.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'

const run = runCli

t.test('unreadable or invalid state files stop startup with exit 2', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npg-serve-'))
  const cases: [string, string, RegExp][] = [
    ['missing.yaml', '', /missing\.yaml: cannot read file \(ENOENT\)/],
    ['broken.yaml', 'items: [unclosed', /broken\.yaml: document 1: not valid YAML\/JSON/],
    ['scalar.yaml', '"just a string"', /scalar\.yaml: document 1: expected a Kubernetes object/],
    ['nons.yaml', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\n', /nons\.yaml: object 1: NetworkPolicy needs metadata.name and metadata.namespace/],
    ['badjson.json', '{"kind": "List", "items": [', /badjson\.json/],
  ]
  for (const [file, content, expected] of cases) {
    const path = join(dir, file)
    if (content) writeFileSync(path, content)
    const r = await run(['serve', '--port', '0', '--host', '127.0.0.1', '--state', path])
    t.equal(r.code, 2, file)
    t.match(r.stderr, expected, file)
  }
})

t.test('usage errors exit 2', async (t) => {
  t.equal((await run(['serve', '--port', 'eighty'])).code, 2)
  t.equal((await run(['serve', '--tls-cert', '/x'])).code, 2)
  t.equal((await run(['serve', '--mode', 'audit'])).code, 2)
  t.equal((await run(['serve', '--no-such-flag'])).code, 2)
  t.equal((await run(['frobnicate'])).code, 2)
  const dir = mkdtempSync(join(tmpdir(), 'npg-serve-'))
  const cfg = join(dir, 'c.yaml')
  writeFileSync(cfg, 'injectionGraceSeconds: soon\n')
  const r = await run(['serve', '--config', cfg])
  t.equal(r.code, 2)
  t.match(r.stderr, /c\.yaml: injectionGraceSeconds must be a non-negative number/)
  // Below 3 s the watch refresh (every staleAfterSeconds / 3, at least 1 s) could not keep an idle cluster ready.
  writeFileSync(cfg, 'staleAfterSeconds: 2\n')
  const stale = await run(['serve', '--config', cfg])
  t.equal(stale.code, 2)
  t.match(stale.stderr, /c\.yaml: staleAfterSeconds must be at least 3/)
})

t.test('unreadable TLS files and a busy port stop startup with exit 2 and one line', async (t) => {
  const r = await run(['serve', '--host', '127.0.0.1', '--port', '0', '--state', 'examples/demo-state.yaml', '--tls-cert', '/nonexistent/tls.crt', '--tls-key', '/nonexistent/tls.key'])
  t.equal(r.code, 2)
  t.match(r.stderr, /^netpol-guard: .*\/nonexistent\/tls\.(crt|key)/)
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace')

  const { createServer } = await import('node:net')
  const busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => busy.close())
  const port = String((busy.address() as any).port)
  const r2 = await run(['serve', '--host', '127.0.0.1', '--port', port, '--state', 'examples/demo-state.yaml'])
  t.equal(r2.code, 2)
  t.match(r2.stderr, `cannot listen on 127.0.0.1:${port}: the address is in use`)
})

t.test('serve --help lists every flag of the contract with its environment variable', async (t) => {
  const r = await run(['serve', '--help'])
  t.equal(r.code, 0)
  const flags: [string, string][] = [
    ['--host', 'NETPOL_GUARD_HOST'],
    ['--port', 'NETPOL_GUARD_PORT'],
    ['--tls-cert', 'NETPOL_GUARD_TLS_CERT'],
    ['--tls-key', 'NETPOL_GUARD_TLS_KEY'],
    ['--mode', 'NETPOL_GUARD_MODE'],
    ['--state', 'NETPOL_GUARD_STATE'],
    ['--kubeconfig', 'KUBECONFIG'],
    ['--namespace', 'NETPOL_GUARD_NAMESPACE'],
    ['--config', 'NETPOL_GUARD_CONFIG'],
  ]
  for (const [flag, env] of flags) t.match(r.stdout, new RegExp(`^  ${flag} \\S+ +${env} `, 'm'), flag)
  t.match(r.stdout, /default 0\.0\.0\.0/)
  t.match(r.stdout, /default 8443/)
})
