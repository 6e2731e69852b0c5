// The AdmissionReview response helpers and the response encoder: what the encoder writes is what JSON.stringify
// writes for the same response (so the apiserver reads exactly the object the handler built), for any strings,
// including ones JSON must escape and lone surrogates.
import t from 'tap'
import fc from 'fast-check'
import { quote } from '../src/admission/json-text.js'
import {
  allowed,
  denied,
  encodeReviewResponse,
  patched,
  reviewResponse,
  withAuditAnnotations,
  withWarnings,
  type AdmissionResponse,
  type AdmissionReviewResponse,
} from '../src/admission/review.js'

const SCALE = Math.max(0.01, Number(process.env.FUZZ_SCALE ?? 1))

// Strings that exercise every escaping path: quotes, backslashes, control characters, lone and paired surrogates.
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', '__proto__', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', '\ud800', '\udfff', '😀', 'a\ud83dz', '</script>'),
)

// Long strings too (quote remembers the last one of 64 characters or more), built so that some repeat.
const longText = fc.oneof(
  fc.string({ minLength: 60, maxLength: 300 }),
  fc.string({ minLength: 60, maxLength: 300, unit: 'binary' }),
  fc.constantFrom('x'.repeat(64), 'x'.repeat(63) + '"', 'x'.repeat(63) + '\ud800', 'y'.repeat(200)),
)

const response: fc.Arbitrary<AdmissionResponse> = fc
  .record({
    uid: text,
    kind: fc.constantFrom('allow', 'deny', 'patch'),
    message: fc.oneof(text, longText),
    code: fc.oneof(fc.integer({ min: 400, max: 599 }), fc.integer(), fc.double()),
    reason: fc.oneof(fc.constant('Forbidden'), text),
    patch: fc.array(fc.record({ op: fc.constantFrom('add', 'replace'), path: text, value: fc.jsonValue() }), { maxLength: 3 }),
    // warnings and annotations added in any order, any number of times, as the handler's paths may combine them
    extras: fc.array(fc.oneof(fc.record({ warnings: fc.array(text, { maxLength: 3 }) }), fc.record({ annotations: fc.dictionary(text, text, { maxKeys: 3 }) })), { maxLength: 4 }),
  })
  .map((x) => {
    let r = x.kind === 'allow' ? allowed(x.uid) : x.kind === 'deny' ? denied(x.uid, x.message, x.code, x.reason) : patched(x.uid, x.patch)
    for (const e of x.extras) r = 'warnings' in e ? withWarnings(r, e.warnings) : withAuditAnnotations(r, e.annotations)
    return r
  })

const review: fc.Arbitrary<AdmissionReviewResponse> = fc
  .tuple(fc.oneof(fc.constantFrom('admission.k8s.io/v1' as const, 'admission.k8s.io/v1beta1' as const), text as fc.Arbitrary<any>), response)
  .map(([v, r]) => reviewResponse(v, r))

t.test('quote writes what JSON.stringify writes', async (t) => {
  fc.assert(
    fc.property(text, (s) => quote(s) === JSON.stringify(s)),
    { numRuns: Math.round(2000 * SCALE) },
  )
  t.pass('2000 strings')
})

t.test('quote, called over and over as the log and the encoder call it, still writes what JSON.stringify writes', async (t) => {
  let calls = 0
  fc.assert(
    fc.property(fc.array(fc.oneof(text, longText), { minLength: 1, maxLength: 20 }), fc.nat(), (strings, seed) => {
      // each string once, then again, and again as a separate copy with the same content
      const order = [...strings, ...strings, ...strings.map((x) => (x + ' ').slice(0, -1))]
      for (let i = 0; i < order.length; i++) {
        const s = order[(i + seed) % order.length]!
        calls++
        if (quote(s) !== JSON.stringify(s)) return false
      }
      return true
    }),
    { numRuns: Math.round(500 * SCALE) },
  )
  t.ok(calls > 1000, `${calls} calls`)
})

t.test('encodeReviewResponse writes what JSON.stringify writes, byte for byte', async (t) => {
  let checked = 0
  fc.assert(
    fc.property(review, (r) => {
      const encoded = encodeReviewResponse(r)
      checked++
      return encoded === JSON.stringify(r)
    }),
    { numRuns: Math.round(2000 * SCALE) },
  )
  t.ok(checked > 0, `${checked} responses`)
})

t.test('encodeReviewResponse: the shapes the handler sends', async (t) => {
  const uid = 'b0000000-0000-4000-8000-000000000001'
  t.equal(encodeReviewResponse(reviewResponse('admission.k8s.io/v1', allowed(uid))), `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"${uid}","allowed":true}}`)
  const deny = JSON.parse(encodeReviewResponse(reviewResponse('admission.k8s.io/v1beta1', denied(uid, '[no-global-policy] "quoted"\nnext'))))
  t.same(deny, {
    apiVersion: 'admission.k8s.io/v1beta1',
    kind: 'AdmissionReview',
    response: { uid, allowed: false, status: { metadata: {}, status: 'Failure', code: 403, reason: 'Forbidden', message: '[no-global-policy] "quoted"\nnext' } },
  })
  const patch = Object.freeze([{ op: 'add', path: '/metadata/labels/a', value: 'b' }])
  const p = JSON.parse(encodeReviewResponse(reviewResponse('admission.k8s.io/v1', patched(uid, patch))))
  t.equal(p.response.patchType, 'JSONPatch')
  t.same(JSON.parse(Buffer.from(p.response.patch, 'base64').toString('utf8')), patch)
})

t.test('encodeReviewResponse leaves out fields outside the response schema', async (t) => {
  const r = { ...allowed('u'), extra: { secret: 1 } } as AdmissionResponse
  t.same(JSON.parse(encodeReviewResponse(reviewResponse('admission.k8s.io/v1', r))), { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } })
})
