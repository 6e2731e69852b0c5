// `serve` refuses bad startup input with exit code 2 and a message naming the file and the problem, and its
// flags reach the server it starts.
import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { runCli } from './helpers/cli.js'
import { DEADLINE_MS, deadline, startServe } from './helpers/serve-child.js'

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

t.test('ports are digits only, 0-65535', async (t) => {
  for (const bad of ['', '0x50', '1e3', '65536', '-1', ' 80', '8443.0']) {
    const r = await run(['serve', `--port=${bad}`])
    t.equal(r.code, 2, JSON.stringify(bad))
    t.match(r.stderr, `--port must be a port number (0-65535), not "${bad}"`, JSON.stringify(bad))
  }
  process.env.NETPOL_GUARD_PORT = ' '
  t.teardown(() => void delete process.env.NETPOL_GUARD_PORT)
  t.equal((await run(['serve'])).code, 2, 'a blank NETPOL_GUARD_PORT is not port 0')
})

t.test('LOG_LEVEL, --namespace and stray arguments are checked: one line, exit 2', async (t) => {
  process.env.LOG_LEVEL = 'verbose'
  const level = await run(['serve', '--port', '0', '--host', '127.0.0.1', '--state', 'examples/demo-state.yaml'])
  delete process.env.LOG_LEVEL
  t.equal(level.code, 2)
  t.match(level.stderr, /^netpol-guard: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, not "verbose"\n/)
  for (const bad of ['', 'Bad Name!', 'UPPER', '-lead', 'x'.repeat(64)]) {
    const r = await run(['serve', `--namespace=${bad}`])
    t.equal(r.code, 2, JSON.stringify(bad))
    t.match(r.stderr, `--namespace must be a namespace name`, JSON.stringify(bad))
  }
  process.env.NETPOL_GUARD_NAMESPACE = 'Guard'
  const fromEnv = await run(['serve'])
  delete process.env.NETPOL_GUARD_NAMESPACE
  t.equal(fromEnv.code, 2)
  t.match(fromEnv.stderr, 'NETPOL_GUARD_NAMESPACE must be a namespace name', 'the message names where the value came from')
  for (const args of [['serve', 'extra'], ['vap', 'extra'], ['audit', 'team-a']]) {
    const r = await run(args)
    t.equal(r.code, 2, args.join(' '))
    t.match(r.stderr, `${args[0]} takes no arguments, only flags: "${args[1]}"`)
  }
})

t.test('a kubeconfig that cannot be read stops startup with exit 2 and one line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'npg-serve-'))
  const garbage = join(dir, 'garbage')
  writeFileSync(garbage, 'apiVersion: v1\nkind: Config\nclusters: []\n')
  for (const path of [join(dir, 'missing'), garbage]) {
    const r = await run(['serve', '--host', '127.0.0.1', '--port', '0', '--kubeconfig', path])
    t.equal(r.code, 2, path)
    t.match(r.stderr, new RegExp(`^netpol-guard: cannot load kubeconfig ${path}: `), path)
    t.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack trace')
  }
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
    ['--max-connections', 'NETPOL_GUARD_MAX_CONNECTIONS'],
  ]
  for (const [flag, env] of flags) t.match(r.stdout, new RegExp(`^  ${flag} \\S+ +${env} `, 'm'), flag)
  t.match(r.stdout, /default 0\.0\.0\.0/)
  t.match(r.stdout, /default 8443/)
  t.match(r.stdout, /default 1000\)/)
})

t.test('--max-connections and NETPOL_GUARD_MAX_CONNECTIONS take a whole number of at least 1', async (t) => {
  for (const bad of ['0', '-5', '1.5', 'many', '1e400']) {
    const r = await run(['serve', `--max-connections=${bad}`])
    t.equal(r.code, 2, bad)
    t.match(r.stderr, `--max-connections must be a whole number of at least 1, not "${bad}"`, bad)
  }
  process.env.NETPOL_GUARD_MAX_CONNECTIONS = 'lots'
  t.teardown(() => void delete process.env.NETPOL_GUARD_MAX_CONNECTIONS)
  const fromEnv = await run(['serve'])
  t.equal(fromEnv.code, 2, 'read from the environment')
  t.match(fromEnv.stderr, 'not "lots"')
})

t.test('serve --max-connections 2: the third open connection is closed on arrival and logged', async (t) => {
  const { port, serving, log } = await startServe(t, ['--max-connections', '2'])
  t.equal(serving.maxConnections, 2, 'the "serving" line says the limit')
  const open = () => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false })
    const outcome = deadline(
      'handshake or error',
      DEADLINE_MS,
      new Promise<string>((resolve) => {
        s.once('secureConnect', () => resolve('connected'))
        s.once('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code}`))
        s.once('close', () => resolve('closed'))
      }),
    )
    return { s, outcome }
  }
  const held: TLSSocket[] = []
  t.teardown(() => held.forEach((s) => s.destroy()))
  for (let i = 0; i < 2; i++) {
    const c = open()
    held.push(c.s)
    t.equal(await c.outcome, 'connected', `connection ${i + 1} is served`)
  }
  const third = open()
  held.push(third.s)
  t.match(await third.outcome, /^(error|closed)/, 'the third is closed before its handshake')
  const line = await log.waitFor('"connection limit reached" line', (l) => typeof l.msg === 'string' && l.msg.startsWith('connection limit reached'))
  t.match(line, { level: 40, maxConnections: 2, dropped: 1 })
})
