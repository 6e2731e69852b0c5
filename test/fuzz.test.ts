// Property-based fuzzing (fast-check) of the decoder, the HTTP layer and the rules: random AdmissionReviews and
// reviews mutated from the recorded apiserver requests and the examples, posted through fastify.inject to /validate
// and /mutate, and random requests handed straight to the pure decisions.
//
// Properties: never a 5xx, never a thrown error; a 200 answers in the request's apiVersion with its uid and a
// boolean `allowed`; a denial is 403 with a one-line message that starts with `[rule] `; a 4xx is a one-line JSON
// error; the same input gives the same answer (fixed clock). FUZZ_SCALE=n multiplies the number of cases.
import t from 'tap'
import fc from 'fast-check'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { defaultConfig, type GuardConfig } from '../src/config.js'
import { decideMutation } from '../src/decision/mutate.js'
import { decideValidation } from '../src/decision/validate.js'
import type { AdmissionRequest } from '../src/k8s/types.js'
import { DEFAULT_CLUSTER_WIDE_KINDS, POD_WORKLOADS } from '../src/policy/kinds.js'
import { loadStateFile } from '../src/view/state-file.js'
import { requestMix } from '../bench/workload.js'
import { DEMO_STATE, ROOT, example, fixture, fixtureNames, testServer } from './helpers/server.js'

const SCALE = Math.max(0.01, Number(process.env.FUZZ_SCALE ?? 1))
const runs = (n: number) => Math.max(1, Math.round(n * SCALE))
const NOW = Date.parse('2026-11-27T15:00:00Z')
const clock = () => NOW

// ---------------------------------------------------------------------------------------------
// Seeds: what a kube-apiserver really sends, the examples, and the benchmark's request mix.

function seedReviews(): any[] {
  const out: any[] = []
  try {
    for (const name of fixtureNames()) out.push(fixture(name))
  } catch {
    // the recorded requests live outside the repository; the examples still seed the fuzzer
  }
  for (const name of readdirSync(join(ROOT, 'examples', 'reviews')).filter((f) => f.endsWith('.json'))) out.push(example(name))
  for (const m of requestMix(10, 2)) out.push(m.review)
  return out
}
const SEEDS = seedReviews()

// ---------------------------------------------------------------------------------------------
// Arbitraries

const NAMESPACE_NAMES = ['team-a', 'team-b', 'team-c', 'legacy', 'kube-system', 'kube-public', 'netpol-guard', 'default', '']
const GUARD_LABELS = ['netpol-guard.io/deny-all', 'netpol-guard.io/exempt', 'netpol-guard.io/mode', 'netpol-guard.io/x', 'app', 'kubernetes.io/metadata.name']
const LABEL_VALUES = ['injected', 'true', 'false', 'dry-run', 'enforce', '', 'web']
const RESOURCES = [
  ...DEFAULT_CLUSTER_WIDE_KINDS,
  ...POD_WORKLOADS,
  { group: 'networking.k8s.io', resource: 'networkpolicies', kind: 'NetworkPolicy' },
  { group: '', resource: 'namespaces', kind: 'Namespace' },
  { group: '', resource: 'configmaps', kind: 'ConfigMap' },
]

/** Strings that matter to the rules, mixed with arbitrary (and sometimes long, multi-line or non-ASCII) ones. */
const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NAMESPACE_NAMES, ...GUARD_LABELS, ...LABEL_VALUES, 'CREATE', 'Ingress', 'Egress', 'system:masters') },
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(' \n\t ', 'a\nb', '\u2028', '\u0085', '\u001b[2J', '~/', '%00', '"quoted"', '\\') },
)
const huge = fc.constantFrom(1_000, 20_000, 200_000).chain((n) => fc.constantFrom('x', 'é', '\n', '🙂').map((c) => c.repeat(n)))
const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e308, '', [], {}, [[]], [null], { '': {} }) },
  { weight: 1, arbitrary: huge },
  { weight: 1, arbitrary: fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 50, maxLength: 300 }) },
)
const labels = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...GUARD_LABELS), fc.string({ maxLength: 12 })), fc.oneof(fc.constantFrom(...LABEL_VALUES), fc.string({ maxLength: 8 })), { maxKeys: 5 }) },
  { weight: 1, arbitrary: junk },
)
const selector = fc.oneof(
  fc.constant({}),
  fc.record({ matchLabels: labels, matchExpressions: fc.oneof(fc.array(fc.record({ key: text, operator: fc.constantFrom('In', 'NotIn', 'Exists', 'x'), values: fc.array(text, { maxLength: 3 }) }), { maxLength: 2 }), junk) }, { requiredKeys: [] }),
  junk,
)
const peer = fc.record({ podSelector: selector, namespaceSelector: selector, ipBlock: fc.oneof(fc.record({ cidr: text }), junk) }, { requiredKeys: [] })
const port = fc.record({ port: fc.oneof(fc.integer({ min: -1, max: 70_000 }), text), protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 'x'), endPort: fc.integer() }, { requiredKeys: [] })
const netpolRule = (peerField: 'from' | 'to') =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ [peerField]: fc.oneof(fc.array(peer, { maxLength: 2 }), junk), ports: fc.oneof(fc.array(port, { maxLength: 2 }), junk) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: junk },
  )
const netpolSpec = fc.oneof(
  { weight: 4, arbitrary: fc.record({ podSelector: selector, policyTypes: fc.oneof(fc.subarray(['Ingress', 'Egress']), fc.array(text, { maxLength: 3 }), junk), ingress: fc.oneof(fc.array(netpolRule('from'), { maxLength: 3 }), junk), egress: fc.oneof(fc.array(netpolRule('to'), { maxLength: 3 }), junk) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: junk },
)
const metadata = fc.oneof(
  { weight: 5, arbitrary: fc.record({ name: fc.oneof(text, junk), generateName: text, namespace: fc.oneof(fc.constantFrom(...NAMESPACE_NAMES), text), labels, annotations: labels, deletionTimestamp: fc.oneof(fc.constant('2026-11-27T14:00:00Z'), text, junk), creationTimestamp: fc.oneof(fc.constant('2026-11-27T14:59:00Z'), fc.constant(null), text) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: junk },
)
const kubeObject = fc.oneof(
  { weight: 6, arbitrary: fc.record({ apiVersion: text, kind: fc.oneof(fc.constantFrom(...RESOURCES.map((r) => r.kind)), text), metadata, spec: netpolSpec, status: fc.oneof(fc.record({ phase: fc.constantFrom('Active', 'Terminating', 'x') }), junk) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), junk, { maxKeys: 6 }) },
)
const objectField = fc.oneof({ weight: 6, arbitrary: kubeObject }, { weight: 1, arbitrary: fc.constant(null) })
const resource = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...RESOURCES) }, { weight: 1, arbitrary: fc.record({ group: text, resource: text, kind: text }) })
const userInfo = fc.record(
  { username: fc.oneof(fc.constantFrom('jane', 'admin', 'system:serviceaccount:netpol-guard:netpol-guard', 'system:serviceaccount:kube-system:namespace-controller'), text), uid: text, groups: fc.array(fc.oneof(fc.constantFrom('system:masters', 'system:authenticated', 'developers'), text), { maxLength: 4 }), extra: fc.dictionary(text, fc.array(text, { maxLength: 2 }), { maxKeys: 2 }) },
  { requiredKeys: [] },
)

/** An AdmissionRequest of the shape the decoder lets through (its schema), with everything else random. */
const admissionRequest: fc.Arbitrary<AdmissionRequest> = fc
  .record(
    {
      uid: fc.oneof(fc.uuid(), fc.string({ minLength: 1, maxLength: 256 })),
      res: resource,
      version: fc.constantFrom('v1', 'v1beta1', 'v2', ''),
      subResource: fc.oneof(fc.constant(undefined), fc.constantFrom('', 'status', 'finalize', 'exec', 'x')),
      name: fc.oneof(fc.constant(undefined), text),
      namespace: fc.oneof(fc.constant(undefined), fc.constantFrom(...NAMESPACE_NAMES), text),
      operation: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT' as const),
      userInfo,
      object: fc.oneof(fc.constant(undefined), objectField),
      oldObject: fc.oneof(fc.constant(undefined), objectField),
      dryRun: fc.oneof(fc.constant(undefined), fc.boolean()),
      options: junk,
    },
    { requiredKeys: ['uid', 'res', 'version', 'operation', 'userInfo'] },
  )
  .map((r) => {
    const req: Record<string, unknown> = {
      uid: r.uid,
      kind: { group: r.res.group, version: r.version, kind: r.res.kind },
      resource: { group: r.res.group, version: r.version, resource: r.res.resource },
      operation: r.operation,
      userInfo: r.userInfo,
    }
    for (const k of ['subResource', 'name', 'namespace', 'object', 'oldObject', 'dryRun', 'options'] as const) if (r[k] !== undefined) req[k] = r[k]
    return req as unknown as AdmissionRequest
  })

const randomReview = fc.record({
  apiVersion: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('admission.k8s.io/v1', 'admission.k8s.io/v1beta1') }, { weight: 1, arbitrary: fc.oneof(text, junk) }),
  kind: fc.oneof({ weight: 8, arbitrary: fc.constant('AdmissionReview') }, { weight: 1, arbitrary: junk }),
  request: fc.oneof({ weight: 8, arbitrary: admissionRequest as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk }),
})

// Mutations of the seeds: at a random place in the review (any depth), delete the field, or put junk, a huge
// string, a deeply nested value, a value of another type, or something that matters to the rules there.

function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix)
  if (prefix.length > 8) return out
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out)
  return out
}
const SEED_PATHS = SEEDS.map((s) => paths(s))

function nested(depth: number): unknown {
  let v: unknown = 'bottom'
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v }
  return v
}

type Mutation = { at: number; op: 'delete' | 'set'; value: unknown }
const mutationValue = fc.oneof(
  { weight: 4, arbitrary: junk },
  { weight: 2, arbitrary: text },
  { weight: 2, arbitrary: fc.oneof(kubeObject, netpolSpec, labels, selector, resource as fc.Arbitrary<unknown>, userInfo) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 400 }).map(nested) },
  { weight: 1, arbitrary: fc.constantFrom('CREATE', 'UPDATE', 'DELETE', 'CONNECT', 'PATCH', 'create') },
)
const mutation: fc.Arbitrary<Mutation> = fc.record({ at: fc.nat(), op: fc.constantFrom('delete' as const, 'set' as const, 'set' as const), value: mutationValue })

function applyMutations(seedIndex: number, ms: Mutation[]): unknown {
  let review: any = structuredClone(SEEDS[seedIndex])
  const all = SEED_PATHS[seedIndex]!
  for (const m of ms) {
    const path = all[m.at % all.length]!
    if (path.length === 0) {
      review = m.op === 'delete' ? {} : structuredClone(m.value)
      continue
    }
    let parent: any = review
    for (const k of path.slice(0, -1)) {
      if (parent === null || typeof parent !== 'object') break
      parent = parent[k]
    }
    if (parent === null || typeof parent !== 'object') continue
    const last = path[path.length - 1]!
    if (m.op === 'delete') {
      if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1)
      else delete parent[last]
    } else parent[last] = structuredClone(m.value)
  }
  return review
}
const mutatedReview = fc.tuple(fc.nat({ max: SEEDS.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([i, ms]) => applyMutations(i, ms))

// ---------------------------------------------------------------------------------------------
// The HTTP properties

type Server = Awaited<ReturnType<typeof testServer>>

async function post(app: Server['app'], url: string, body: unknown) {
  const payload = JSON.stringify(body)
  return app.inject({ method: 'POST', url, payload: payload === undefined ? 'null' : payload, headers: { 'content-type': 'application/json' } })
}

let httpCases = 0
const outcomes: Record<string, number> = {}

/** Posts the review to both endpoints, twice each, and checks every answer. */
async function checkReview(server: Server, review: unknown): Promise<void> {
  for (const url of ['/validate', '/mutate']) {
    const first = await post(server.app, url, review)
    const again = await post(server.app, url, review)
    httpCases++
    const outcome = first.statusCode === 200 ? (first.body.includes('"allowed":false') ? '200 denied' : '200 allowed') : String(first.statusCode)
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    if (first.statusCode >= 500) throw new Error(`${url}: ${first.statusCode} ${first.body}`)
    if (again.statusCode !== first.statusCode || again.body !== first.body) throw new Error(`${url}: not deterministic:\n${first.body}\n${again.body}`)
    if (first.body.includes('\n')) throw new Error(`${url}: answer is not one line: ${first.body.slice(0, 200)}`)
    const body = JSON.parse(first.body)
    if (first.statusCode !== 200) {
      if (first.statusCode < 400 || typeof body.error !== 'string' || body.statusCode !== first.statusCode) throw new Error(`${url}: bad error answer ${first.statusCode} ${first.body.slice(0, 300)}`)
      continue
    }
    const r = review as { apiVersion: string; request: { uid: string } }
    if (body.apiVersion !== r.apiVersion || body.kind !== 'AdmissionReview') throw new Error(`${url}: apiVersion/kind not echoed: ${first.body.slice(0, 300)}`)
    const res = body.response
    if (!res || res.uid !== r.request.uid || typeof res.allowed !== 'boolean') throw new Error(`${url}: response without the uid or a boolean allowed: ${first.body.slice(0, 300)}`)
    if (!res.allowed) {
      if (url !== '/validate') throw new Error(`/mutate denied: ${first.body.slice(0, 300)}`)
      const msg = res.status?.message
      if (res.status?.code !== 403 || res.status?.reason !== 'Forbidden') throw new Error(`denial without 403 Forbidden: ${first.body.slice(0, 300)}`)
      if (typeof msg !== 'string' || !/^\[[a-z-]+\] \S/.test(msg) || /[\n\r]/.test(msg)) throw new Error(`denial message is not one line starting with [rule]: ${JSON.stringify(msg)}`)
    }
    for (const w of res.warnings ?? []) if (typeof w !== 'string' || /[\n\r]/.test(w) || w.length > 256) throw new Error(`bad warning ${JSON.stringify(w)}`)
    if (res.patch !== undefined && (res.patchType !== 'JSONPatch' || !Array.isArray(JSON.parse(Buffer.from(res.patch, 'base64').toString('utf8'))))) throw new Error('patch is not a base64 JSONPatch')
  }
}

const started = Date.now()

t.test('random and mutated AdmissionReviews through the HTTP layer', async (t) => {
  for (const mode of ['enforce', 'dry-run'] as const) {
    const server = await testServer({ clock, config: { mode } })
    t.teardown(() => server.app.close())
    const before = httpCases
    const t0 = Date.now()
    await fc.assert(fc.asyncProperty(mutatedReview, (review) => checkReview(server, review)), { numRuns: runs(mode === 'enforce' ? 3000 : 1000) })
    await fc.assert(fc.asyncProperty(randomReview, (review) => checkReview(server, review)), { numRuns: runs(mode === 'enforce' ? 2500 : 1000) })
    const internal = server.lines.filter((l) => l.level >= 50)
    t.same(internal, [], `${mode}: nothing logged at error level`)
    t.comment(`${mode}: ${(httpCases - before) / 2} reviews, each posted twice to /validate and twice to /mutate, in ${Date.now() - t0} ms`)
    // the process still serves the real thing afterwards
    const ok = await post(server.app, '/validate', example('pod-create-team-a.json'))
    t.equal(ok.statusCode, 200)
  }
})

// ---------------------------------------------------------------------------------------------
// The pure decisions, called directly

const view = loadStateFile(DEMO_STATE).view
const configs: GuardConfig[] = [
  defaultConfig(),
  defaultConfig({ mode: 'dry-run' }),
  defaultConfig({ exemptNamespaces: ['team-a'], privilegedUsers: ['jane'], injectionGraceSeconds: 0 }),
  defaultConfig({ rules: { 'no-global-policy': false, 'require-deny-all': true, 'protect-deny-all': false, 'no-allow-all': true, 'protect-guard-labels': false }, clusterWideKinds: [] }),
]

t.test('decideValidation and decideMutation never throw and are deterministic', async (t) => {
  let cases = 0
  const t0 = Date.now()
  fc.assert(
    fc.property(admissionRequest, fc.nat({ max: configs.length - 1 }), fc.integer({ min: -1e6, max: 1e6 }), (request, ci, skew) => {
      cases++
      const config = configs[ci]!
      const ctx = { request, view, config, now: NOW + skew * 1000 }
      const a = decideValidation(ctx)
      const b = decideValidation(ctx)
      if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error('decideValidation not deterministic')
      if (typeof a.allowed !== 'boolean' || !['enforce', 'dry-run'].includes(a.mode)) throw new Error('bad decision')
      for (const f of a.findings) if (!f.message.startsWith(`[${f.rule}] `) || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(f.message)) throw new Error(`bad finding ${JSON.stringify(f)}`)
      if (a.allowed !== (a.findings.length === 0 || a.mode === 'dry-run')) throw new Error('allowed does not follow findings and mode')
      const m = decideMutation(request, view, config)
      if (JSON.stringify(m) !== JSON.stringify(decideMutation(request, view, config))) throw new Error('decideMutation not deterministic')
      if (m.patch && !Array.isArray(m.patch)) throw new Error('patch is not a list')
      if ((m.inject && request.dryRun === true) || (m.inject && m.mode === 'dry-run')) throw new Error('injection scheduled for a dry run')
      if (m.inject && view.namespace(m.inject)) throw new Error('injection promised for a namespace that exists')
    }),
    { numRuns: runs(6000) },
  )
  t.comment(`${cases} decision cases in ${Date.now() - t0} ms`)
  t.ok(cases >= runs(6000))
})

t.test('total', async (t) => {
  t.comment(`fuzz total: ${httpCases / 2} reviews over HTTP (${httpCases} endpoint cases: ${JSON.stringify(outcomes)}) and ${runs(6000)} direct decision cases, ${Date.now() - started} ms`)
  t.ok(httpCases / 2 + runs(6000) >= runs(10_000), 'at least 10,000 cases')
  t.ok(outcomes['200 allowed']! > 0 && outcomes['200 denied']! > 0 && outcomes['400']! > 0, 'the cases reach allows, denials and refusals')
})
