import t from 'tap'
import jsonpatch from 'fast-json-patch'
import { gzipSync } from 'node:zlib'
import { fixture, noFixtures } from './helpers/requests.js'
import { decodePatch, example, testServer } from './helpers/server.js'

const post = (app: any, url: string, body: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url, payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })

t.test('demo examples get the contract answers', async (t) => {
  const { app } = await testServer()
  t.teardown(() => app.close())

  const ok = await post(app, '/validate?timeout=10s', example('pod-create-team-a.json'))
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '11111111-0000-0000-0000-000000000001', allowed: true } })

  const cases: [string, string][] = [
    ['pod-create-team-b.json', 'require-deny-all'],
    ['globalnetworkpolicy-create.json', 'no-global-policy'],
    ['networkpolicy-delete-deny-all.json', 'protect-deny-all'],
    ['networkpolicy-create-allow-all.json', 'no-allow-all'],
    ['namespace-label-exempt.json', 'protect-guard-labels'],
  ]
  for (const [file, rule] of cases) {
    const review = example(file)
    const res = await post(app, '/validate', review)
    t.equal(res.statusCode, 200, file)
    const body = res.json()
    t.equal(body.apiVersion, 'admission.k8s.io/v1')
    t.equal(body.kind, 'AdmissionReview')
    t.equal(body.response.uid, review.request.uid, `${file} uid echoed`)
    t.equal(body.response.allowed, false, `${file} denied`)
    t.equal(body.response.status.code, 403)
    t.equal(body.response.status.reason, 'Forbidden')
    t.match(body.response.status.message, new RegExp(`^\\[${rule}\\] `), `${file} message starts with [${rule}]`)
    t.notMatch(body.response.status.message, /\n/, 'one line')
  }
})

t.test('v1beta1 in, v1beta1 out', async (t) => {
  const { app } = await testServer()
  t.teardown(() => app.close())
  const res = await post(app, '/validate', example('pod-create-team-b-v1beta1.json'))
  const body = res.json()
  t.equal(body.apiVersion, 'admission.k8s.io/v1beta1')
  t.equal(body.response.uid, '11111111-0000-0000-0000-000000000008')
  t.equal(body.response.allowed, false)
})

t.test('namespace CREATE on /mutate: label patch, then the namespace counts as covered', async (t) => {
  const { app, view } = await testServer()
  t.teardown(() => app.close())
  const review = example('namespace-create.json')
  const res = await post(app, '/mutate', review)
  const body = res.json()
  t.equal(body.response.allowed, true)
  t.equal(body.response.patchType, 'JSONPatch')
  const patch = decodePatch(body.response)!
  const patchedNs = jsonpatch.applyPatch(structuredClone(review.request.object), patch as any).newDocument
  t.same(patchedNs.metadata.labels, { 'kubernetes.io/metadata.name': 'team-c', 'netpol-guard.io/deny-all': 'injected' }, 'keeps other labels')
  t.ok(view.pendingInjection('team-c'), 'injection recorded')

  const pod = example('pod-create-team-a.json')
  pod.request.namespace = 'team-c'
  pod.request.object.metadata.namespace = 'team-c'
  const podRes = (await post(app, '/validate', pod)).json()
  t.equal(podRes.response.allowed, true, 'workload right after the namespace is admitted')
})

t.test('namespace CREATE of a namespace that exists: no injection promised, and its workloads stay refused', async (t) => {
  const { app, view, lines } = await testServer({ logLevel: 'debug' })
  t.teardown(() => app.close())
  const pod = example('pod-create-team-b.json')
  t.equal((await post(app, '/validate', pod)).json().response.allowed, false, 'team-b is not covered')
  // What `kubectl create namespace team-b` sends when team-b exists: the apiserver asks the webhook first.
  const review = example('namespace-create.json')
  review.request.name = review.request.namespace = review.request.object.metadata.name = 'team-b'
  review.request.userInfo = { username: 'mallory', groups: ['system:authenticated'] }
  const body = (await post(app, '/mutate', review)).json()
  t.equal(body.response.allowed, true, 'the apiserver refuses it with AlreadyExists; not ours to say')
  t.ok(body.response.patch, 'labelled as any new namespace (the failed CREATE discards it)')
  t.equal(view.pendingInjection('team-b'), undefined, 'no injection promised')
  t.match(lines.find((l) => l.uid === review.request.uid), { outcome: 'already-exists', decision: 'patch' })
  t.equal((await post(app, '/validate', pod)).json().response.allowed, false, 'the Pod is still refused')
})

t.test('request.dryRun on /mutate: no patch, nothing scheduled (the contract patches only when dryRun is false)', async (t) => {
  const { app, view, lines } = await testServer()
  t.teardown(() => app.close())
  const review = example('namespace-create.json')
  review.request.dryRun = true
  const body = (await post(app, '/mutate', review)).json()
  t.equal(body.response.allowed, true)
  t.equal(body.response.uid, review.request.uid)
  t.notOk(body.response.patch, 'no patch')
  t.notOk(body.response.patchType, 'no patch type')
  t.equal(view.pendingInjection('team-c'), undefined, 'nothing pending')
  t.match(lines.find((l) => l.uid === review.request.uid), { level: 30, outcome: 'request-dry-run', dryRun: true, decision: 'allow' })
  // The same request without dryRun is patched.
  review.request.dryRun = false
  t.ok((await post(app, '/mutate', review)).json().response.patch)
})

t.test('dry-run mode: allowed with warnings, audit annotations, no patch', async (t) => {
  const { app, view, lines, metrics } = await testServer({ config: { mode: 'dry-run' } })
  t.teardown(() => app.close())
  const body = (await post(app, '/validate', example('pod-create-team-b.json'))).json()
  t.equal(body.response.allowed, true)
  t.equal(body.response.warnings.length, 1)
  const w: string = body.response.warnings[0]
  t.match(w, /^netpol-guard dry-run: would deny \[require-deny-all\] Pod team-b\/web-0/)
  t.ok(w.length <= 256, `warning is at most 256 chars (${w.length})`)
  t.match(w, /Create one first .* then allow what the workload needs\.$/, 'short enough that the advice is not cut off')
  t.notMatch(w, /\n/)
  t.equal(body.response.auditAnnotations['dry-run-would-deny'], 'require-deny-all')
  const line = lines.find((l) => l.uid === '11111111-0000-0000-0000-000000000002')
  t.equal(line.decision, 'warn')
  t.equal(line.mode, 'dry-run')
  t.equal(line.rule, 'require-deny-all')
  t.match(await metrics.registry.metrics(), /netpol_guard_admission_requests_total\{endpoint="validate",rule="require-deny-all",decision="warn",mode="dry-run"\} 1/)

  const mut = (await post(app, '/mutate', example('namespace-create.json'))).json()
  t.equal(mut.response.allowed, true)
  t.notOk(mut.response.patch, 'no patch in dry-run mode')
  t.equal(view.pendingInjection('team-c'), undefined)
})

t.test('dry-run warnings of every rule keep their advice within 256 characters', async (t) => {
  const { app } = await testServer({ config: { mode: 'dry-run' } })
  t.teardown(() => app.close())
  for (const file of ['pod-create-team-b.json', 'globalnetworkpolicy-create.json', 'networkpolicy-delete-deny-all.json', 'networkpolicy-create-allow-all.json', 'namespace-label-exempt.json']) {
    const body = (await post(app, '/validate', example(file))).json()
    const w: string = body.response.warnings[0]
    t.ok(w.length <= 256, `${file}: ${w.length} chars`)
    t.notMatch(w, /\.\.\.$/, `${file}: not cut`)
  }
})

t.test('a cut warning never ends in half a surrogate pair', async (t) => {
  const { warningLine } = await import('../src/admission/review.js')
  const line = warningLine('x'.repeat(252) + '😀😀😀')
  t.ok(line.length <= 256)
  t.notOk(/[\ud800-\udbff]$/.test(line.slice(0, -3)), 'no lone high surrogate before the ellipsis')
  t.equal(Buffer.from(line, 'utf8').toString('utf8'), line, 'round-trips as UTF-8')
})

t.test('namespace labelled netpol-guard.io/mode: dry-run is in dry-run in enforce mode', async (t) => {
  const { app, view } = await testServer()
  t.teardown(() => app.close())
  view.upsertNamespace({ name: 'team-b', labels: { 'netpol-guard.io/mode': 'dry-run' }, terminating: false })
  const body = (await post(app, '/validate', example('pod-create-team-b.json'))).json()
  t.equal(body.response.allowed, true)
  t.match(body.response.warnings[0], /would deny \[require-deny-all\]/)
})

t.test('one decision log line with the fields an operator needs', async (t) => {
  const { app, lines } = await testServer()
  t.teardown(() => app.close())
  await post(app, '/validate', example('globalnetworkpolicy-create.json'))
  const line = lines.find((l) => l.uid === '11111111-0000-0000-0000-000000000003')
  t.match(line, {
    operation: 'CREATE',
    resource: 'crd.projectcalico.org/globalnetworkpolicies',
    object: 'allow-all-egress',
    user: 'alice@example.com',
    rule: 'no-global-policy',
    decision: 'deny',
    mode: 'enforce',
  })
  t.type(line.ms, 'number')
})

t.test('a Namespace is logged by its name alone, though the apiserver also sends it as request.namespace', { skip: noFixtures }, async (t) => {
  const { app, lines } = await testServer()
  t.teardown(() => app.close())
  const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: fixture('053-namespace-create.json') }
  t.equal(review.request.namespace, review.request.name, 'recorded: request.namespace is the namespace itself')
  await post(app, '/mutate', review)
  const line = lines.find((l) => l.uid === review.request.uid)
  t.match(line, { decision: 'patch', resource: 'namespaces' })
  t.equal(line.object, review.request.name)
})

t.test('log levels: refusals and warnings at warn, changes at info, plain allowances at debug', async (t) => {
  const info = await testServer()
  t.teardown(() => info.app.close())
  await post(info.app, '/validate', example('pod-create-team-a.json'))
  await post(info.app, '/validate', example('globalnetworkpolicy-create.json'))
  await post(info.app, '/mutate', example('namespace-create.json'))
  t.same(
    info.lines.filter((l) => l.uid).map((l) => [l.msg, l.level]),
    [
      ['admission validate deny', 40],
      ['admission mutate patch', 30],
    ],
    'at the default level an allowed Pod leaves no line; the denial and the patch do',
  )

  const dryRun = await testServer({ config: { mode: 'dry-run' } })
  t.teardown(() => dryRun.app.close())
  await post(dryRun.app, '/validate', example('pod-create-team-b.json'))
  await post(dryRun.app, '/mutate', example('namespace-create.json'))
  t.same(
    dryRun.lines.filter((l) => l.uid).map((l) => [l.msg, l.level, l.outcome]),
    [
      ['admission validate warn', 40, undefined],
      ['admission mutate allow', 30, 'dry-run'],
    ],
    'dry-run: the would-deny is a warning, the would-inject an info line',
  )

  const debug = await testServer({ logLevel: 'debug' })
  t.teardown(() => debug.app.close())
  await post(debug.app, '/validate', example('pod-create-team-a.json'))
  const line = debug.lines.find((l) => l.uid)
  t.match(line, { msg: 'admission validate allow', level: 20, decision: 'allow', rule: 'none', object: 'team-a/web-0' }, 'LOG_LEVEL=debug shows every allowance')
})

t.test('bad input: clear 4xx, one-line JSON, logged and counted, server keeps serving', async (t) => {
  const { app, lines, metrics } = await testServer({ bodyLimit: 64 * 1024 })
  t.teardown(() => app.close())
  const good = example('pod-create-team-a.json')
  const bad: [string, () => Promise<any>, number][] = [
    ['not JSON', () => post(app, '/validate', '{"apiVersion": '), 400],
    ['empty body', () => post(app, '/validate', ''), 400],
    ['wrong content type', () => app.inject({ method: 'POST', url: '/validate', payload: 'hello', headers: { 'content-type': 'text/plain' } }), 415],
    ['not an object', () => post(app, '/validate', '[1,2,3]'), 400],
    ['wrong apiVersion', () => post(app, '/validate', { ...good, apiVersion: 'admission.k8s.io/v2' }), 400],
    ['wrong kind', () => post(app, '/validate', { ...good, kind: 'Pod' }), 400],
    ['no request', () => post(app, '/validate', { apiVersion: good.apiVersion, kind: good.kind }), 400],
    ['no uid', () => post(app, '/validate', { ...good, request: { ...good.request, uid: undefined } }), 400],
    ['uid wrong type', () => post(app, '/validate', { ...good, request: { ...good.request, uid: 42 } }), 400],
    ['bad operation', () => post(app, '/mutate', { ...good, request: { ...good.request, operation: 'PATCH' } }), 400],
    ['object is a string', () => post(app, '/validate', { ...good, request: { ...good.request, object: 'x' } }), 400],
    ['dryRun is a string', () => post(app, '/validate', { ...good, request: { ...good.request, dryRun: 'true' } }), 400],
    ['too large', () => post(app, '/validate', { ...good, padding: 'x'.repeat(100 * 1024) }), 413],
    ['unknown path', () => post(app, '/admit', good), 404],
    ['GET on an admission path', () => app.inject({ method: 'GET', url: '/validate' }), 405],
    ['prototype poisoning', () => post(app, '/validate', '{"__proto__": {"x": 1}, "apiVersion": "admission.k8s.io/v1"}'), 400],
    // The apiserver sends JSON in UTF-8, uncompressed: anything else is refused, not decoded into nonsense.
    ['gzip body', () => post(app, '/validate', gzipSync(JSON.stringify(good)), { 'content-encoding': 'gzip' }), 415],
    ['UTF-16 body', () => post(app, '/validate', Buffer.from(JSON.stringify(good), 'utf16le'), { 'content-type': 'application/json; charset=utf-16le' }), 415],
    ['Latin-1 charset', () => post(app, '/validate', good, { 'content-type': 'application/json;charset="ISO-8859-1"' }), 415],
    // A wrong method is told so before its body is looked at.
    ['DELETE with an empty JSON body', () => app.inject({ method: 'DELETE', url: '/validate', payload: '', headers: { 'content-type': 'application/json', 'content-length': '0' } }), 405],
    ['PUT with a broken body', () => app.inject({ method: 'PUT', url: '/mutate', payload: '{', headers: { 'content-type': 'application/json' } }), 405],
    ['OPTIONS', () => app.inject({ method: 'OPTIONS', url: '/validate' }), 405],
    ['URL that does not decode', () => app.inject({ method: 'POST', url: '/%zz', payload: '{}', headers: { 'content-type': 'application/json' } }), 400],
    // An unknown path is told so before its body is looked at.
    ['unknown path, broken body', () => post(app, '/validat', '{'), 404],
    ['unknown path, body over the limit', () => post(app, '/nope', { ...good, padding: 'x'.repeat(100 * 1024) }), 404],
    ['unknown path, text body', () => app.inject({ method: 'PUT', url: '/health', payload: 'hi', headers: { 'content-type': 'text/plain' } }), 404],
    // Every method Fastify routes, not only the common ones; and the operational endpoints take GET alone.
    ['TRACE on an admission path', () => app.inject({ method: 'TRACE', url: '/validate' }), 405],
    ['QUERY on an admission path', () => app.inject({ method: 'QUERY', url: '/mutate', payload: '{', headers: { 'content-type': 'application/json' } }), 405],
    ['POST to /metrics', () => post(app, '/metrics', good), 405],
    ['PUT to /healthz, text body', () => app.inject({ method: 'PUT', url: '/healthz', payload: 'hi', headers: { 'content-type': 'text/plain' } }), 405],
    ['DELETE /readyz', () => app.inject({ method: 'DELETE', url: '/readyz' }), 405],
    ['PROPFIND (a method Fastify does not route) on an admission path', () => app.inject({ method: 'PROPFIND', url: '/validate?x=1' }), 405],
    ['PROPFIND on an unknown path', () => app.inject({ method: 'PROPFIND', url: '/dav' }), 404],
  ]
  const counted = async (): Promise<number> => (await metrics.badRequests.get()).values.reduce((n, v) => n + v.value, 0)
  const messages = new Map<string, string>()
  for (const [name, send, code] of bad) {
    const countedBefore = await counted()
    const loggedBefore = lines.filter((l) => l.msg === 'bad request').length
    const res = await send()
    t.equal(res.statusCode, code, name)
    t.notMatch(res.body, /\n/, `${name}: one line`)
    const body = JSON.parse(res.body)
    t.same(Object.keys(body), ['statusCode', 'error'], `${name}: the one error shape`)
    t.equal(body.statusCode, code)
    t.type(body.error, 'string')
    messages.set(name, body.error)
    t.equal(await counted(), countedBefore + 1, `${name}: counted`)
    t.equal(lines.filter((l) => l.msg === 'bad request').length, loggedBefore + 1, `${name}: logged`)
  }
  t.match(messages.get('too large'), /limit of 65536 bytes/)
  t.match(messages.get('gzip body'), /Content-Encoding gzip is not supported: send the AdmissionReview uncompressed/)
  t.match(messages.get('UTF-16 body'), /charset utf-16le is not supported/)
  t.match(messages.get('DELETE with an empty JSON body'), /\/validate takes POST with an AdmissionReview, not DELETE/)
  t.match(messages.get('URL that does not decode'), /not a valid URL/)
  t.equal(messages.get('TRACE on an admission path'), '/validate takes POST with an AdmissionReview, not TRACE')
  t.equal(messages.get('POST to /metrics'), '/metrics takes GET, not POST')
  t.equal(messages.get('PROPFIND (a method Fastify does not route) on an admission path'), '/validate takes POST with an AdmissionReview, not PROPFIND')
  t.equal((await app.inject({ method: 'PROPFIND', url: '/mutate' })).headers.allow, 'POST')
  t.equal((await app.inject({ method: 'POST', url: '/metrics' })).headers.allow, 'GET, HEAD')
  t.equal((await app.inject({ method: 'TRACE', url: '/mutate' })).headers.allow, 'POST')
  const head = await app.inject({ method: 'HEAD', url: '/validate' })
  t.equal(head.statusCode, 405, 'HEAD on an admission path')
  t.equal(head.headers.allow, 'POST')
  t.equal((await app.inject({ method: 'HEAD', url: '/healthz' })).statusCode, 200, 'HEAD /healthz is GET without the body')
  t.equal(messages.get('unknown path, broken body'), 'no route POST /validat; admission endpoints are POST /validate and POST /mutate')
  const after = await post(app, '/validate', good)
  t.equal(after.statusCode, 200, 'still serving')
  // UTF-8, however it is spelled, and identity encoding are what the apiserver sends.
  for (const headers of [{ 'content-type': 'application/json; charset=utf-8' }, { 'content-type': 'application/json;charset=UTF8' }, { 'content-encoding': 'identity' }, { 'content-encoding': '' }]) {
    t.equal((await post(app, '/validate', good, headers)).statusCode, 200, JSON.stringify(headers))
  }
})

t.test('JSON bodies: the 400 says what is wrong; prototype keys are refused, keys that only look alike are not', async (t) => {
  const { app } = await testServer()
  t.teardown(() => app.close())
  const notJson = await post(app, '/validate', '{"apiVersion": ')
  t.equal(notJson.statusCode, 400)
  t.equal(JSON.parse(notJson.body).error, 'body is not valid JSON: Unexpected end of JSON input')
  for (const body of ['{"__proto__": {"x": 1}}', '{"request": {"object": {"constructor": {"prototype": {}}}}}', '{"\\u005f_proto__": 1}']) {
    const res = await post(app, '/validate', body)
    t.equal(res.statusCode, 400, body)
    t.equal(JSON.parse(res.body).error, 'body refused: Object contains forbidden prototype property (__proto__/constructor keys are not accepted)', body)
  }
  // A key named constructor (an annotation here) is data: the review is decided as usual.
  const review = example('pod-create-team-a.json')
  review.request.object.metadata.annotations = { constructor: 'x' }
  const res = await post(app, '/validate', review)
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(res.body).response.uid, review.request.uid)
})

t.test('objects that are valid JSON but odd shapes never cause a 5xx', async (t) => {
  const { app } = await testServer()
  t.teardown(() => app.close())
  const base = example('networkpolicy-create-allow-all.json')
  const oddSpecs = [{ podSelector: 'x' }, { ingress: 'all' }, { ingress: [null, 1, 'x'] }, { policyTypes: [1, null] }, null, 7, []]
  for (const spec of oddSpecs) {
    const review = structuredClone(base)
    review.request.object.spec = spec
    const res = await post(app, '/validate', review)
    t.ok(res.statusCode < 500, `spec ${JSON.stringify(spec)} → ${res.statusCode}`)
  }
  const noMeta = structuredClone(example('namespace-create.json'))
  noMeta.request.object = { kind: 'Namespace' }
  noMeta.request.name = 'x'
  const res = await post(app, '/mutate', noMeta)
  t.equal(res.statusCode, 200)
  t.same(decodePatch(res.json().response), [{ op: 'add', path: '/metadata', value: { labels: { 'netpol-guard.io/deny-all': 'injected' } } }])
})

t.test('operational endpoints', async (t) => {
  const { app } = await testServer()
  t.teardown(() => app.close())
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const m = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(m.statusCode, 200)
  t.match(m.body, /netpol_guard_admission_duration_seconds/)
})

t.test('a 405 names the methods the router really serves, a route added later included', async (t) => {
  const { app } = await testServer()
  t.teardown(() => app.close())
  // buildServer collects each path's methods as routes are registered: no list of them to keep in step.
  app.put('/extra', async () => ({ ok: true }))
  const res = await app.inject({ method: 'GET', url: '/extra' })
  t.equal(res.statusCode, 405)
  t.equal(res.headers.allow, 'PUT')
  t.equal(JSON.parse(res.body).error, '/extra takes PUT, not GET')
  t.equal((await app.inject({ method: 'PUT', url: '/extra' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/extr' })).statusCode, 404, 'a path no route serves is still a 404')
})

t.test('promises older than the grace period are dropped, not kept forever', async (t) => {
  let now = Date.parse('2026-11-27T12:00:00Z')
  const { app, view } = await testServer({ clock: () => now })
  t.teardown(() => app.close())
  const create = (name: string) => {
    const review = example('namespace-create.json')
    review.request.name = name
    review.request.namespace = name
    review.request.object.metadata.name = name
    return post(app, '/mutate', review)
  }
  await create('early')
  t.ok(view.pendingInjection('early'))
  now += 61_000
  await create('late')
  t.equal(view.pendingInjection('early'), undefined, 'expired promise gone')
  t.ok(view.pendingInjection('late'))
})
