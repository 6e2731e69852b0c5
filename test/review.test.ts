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

const response: fc.Arbitrary<AdmissionResponse> = fc
  .record({
    uid: text,
    kind: fc.constantFrom('allow', 'deny', 'patch'),
    message: text,
    code: fc.integer({ min: 400, max: 599 }),
    reason: text,
    patch: fc.array(fc.record({ op: fc.constantFrom('add', 'replace'), path: text, value: fc.jsonValue() }), { maxLength: 3 }),
    warnings: fc.array(text, { maxLength: 3 }),
    annotations: fc.dictionary(text, text, { maxKeys: 3 }),
  })
  .map((x) => {
    let r = x.kind === 'allow' ? allowed(x.uid) : x.kind === 'deny' ? denied(x.uid, x.message, x.code, x.reason) : patched(x.uid, x.patch)
    r = withWarnings(r, x.warnings)
    return withAuditAnnotations(r, x.annotations)
  })

const review: fc.Arbitrary<AdmissionReviewResponse> = fc
  .tuple(fc.constantFrom('admission.k8s.io/v1' as const, 'admission.k8s.io/v1beta1' as const), response)
  .map(([v, r]) => reviewResponse(v, r))

t.test('quote writes what JSON.stringify writes', async (t) => {
  fc.assert(
    fc.property(text, (s) => quote(s) === JSON.stringify(s)),
    { numRuns: Math.round(2000 * SCALE) },
  )
  t.pass('2000 strings')
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
