// The AdmissionReview protocol (admission.k8s.io v1 and v1beta1): the request schema, and small
// helpers that build responses (after controller-runtime's admission.Allowed/Denied/Patched).
import type { AdmissionRequest } from '../k8s/types.js'
import { quote } from './json-text.js'

export const ADMISSION_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const
export type AdmissionApiVersion = (typeof ADMISSION_VERSIONS)[number]

export interface AdmissionReview {
  apiVersion: AdmissionApiVersion
  kind: 'AdmissionReview'
  request: AdmissionRequest
}

export interface AdmissionStatus {
  metadata: Record<string, never>
  status: 'Failure'
  code: number
  reason: string
  message: string
}

export interface AdmissionResponse {
  uid: string
  allowed: boolean
  status?: AdmissionStatus
  patchType?: 'JSONPatch'
  /** base64 of the JSONPatch document. */
  patch?: string
  warnings?: string[]
  auditAnnotations?: Record<string, string>
}

export interface AdmissionReviewResponse {
  apiVersion: AdmissionApiVersion
  kind: 'AdmissionReview'
  response: AdmissionResponse
}

const gvk = {
  type: 'object',
  required: ['group', 'version', 'kind'],
  properties: { group: { type: 'string' }, version: { type: 'string' }, kind: { type: 'string' } },
} as const

const gvr = {
  type: 'object',
  required: ['group', 'version', 'resource'],
  properties: { group: { type: 'string' }, version: { type: 'string' }, resource: { type: 'string' } },
} as const

/** JSON schema of the request body; what the apiserver always sends is required, the rest is typed when present. */
export const admissionReviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { type: 'string', enum: [...ADMISSION_VERSIONS] },
    kind: { type: 'string', const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'kind', 'resource', 'operation'],
      properties: {
        uid: { type: 'string', minLength: 1, maxLength: 256 },
        kind: gvk,
        resource: gvr,
        subResource: { type: 'string' },
        requestKind: gvk,
        requestResource: gvr,
        requestSubResource: { type: 'string' },
        name: { type: 'string' },
        namespace: { type: 'string' },
        operation: { type: 'string', enum: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] },
        userInfo: {
          type: 'object',
          properties: {
            username: { type: 'string' },
            uid: { type: 'string' },
            groups: { type: 'array', items: { type: 'string' } },
          },
        },
        object: { type: ['object', 'null'] },
        oldObject: { type: ['object', 'null'] },
        dryRun: { type: 'boolean' },
      },
    },
  },
} as const

/** Schema of the answer (documentation, and what encodeReviewResponse writes); every field we send is listed. */
export const admissionReviewResponseSchema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    response: {
      type: 'object',
      properties: {
        uid: { type: 'string' },
        allowed: { type: 'boolean' },
        status: {
          type: 'object',
          properties: {
            metadata: { type: 'object', additionalProperties: false },
            status: { type: 'string' },
            code: { type: 'integer' },
            reason: { type: 'string' },
            message: { type: 'string' },
          },
        },
        patchType: { type: 'string' },
        patch: { type: 'string' },
        warnings: { type: 'array', items: { type: 'string' } },
        auditAnnotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
} as const

/**
 * The answer as JSON text, written field by field in the order above: one string built from constants and the few
 * values that vary, where a generic serializer walks the schema and escapes every value. This runs on every request;
 * JSON.parse of the result is the response itself (fields outside the schema are not written).
 */
export function encodeReviewResponse(review: AdmissionReviewResponse): string {
  const r = review.response
  // the constants every answer carries are written as they are; anything else goes through quote()
  const v = review.apiVersion
  let out = '{"apiVersion":' + ((ADMISSION_VERSIONS as readonly string[]).includes(v) ? '"' + v + '"' : quote(v))
  out += ',"kind":"AdmissionReview","response":{"uid":' + quote(r.uid) + ',"allowed":' + (r.allowed ? 'true' : 'false')
  const st = r.status
  if (st !== undefined) {
    const reason = st.reason === 'Forbidden' ? '"Forbidden"' : quote(st.reason)
    out += ',"status":{"metadata":{},"status":' + (st.status === 'Failure' ? '"Failure"' : quote(st.status)) + ',"code":' + (Number.isFinite(st.code) ? st.code : 'null') + ',"reason":' + reason + ',"message":' + quote(st.message) + '}'
  }
  if (r.patchType !== undefined) out += ',"patchType":' + (r.patchType === 'JSONPatch' ? '"JSONPatch"' : quote(r.patchType))
  if (r.patch !== undefined) out += ',"patch":' + quote(r.patch)
  // rare (dry-run, verification notes): arrays and maps of strings, as JSON.stringify writes them
  if (r.warnings !== undefined) out += ',"warnings":' + JSON.stringify(r.warnings)
  if (r.auditAnnotations !== undefined) out += ',"auditAnnotations":' + JSON.stringify(r.auditAnnotations)
  return out + '}}'
}

export function allowed(uid: string): AdmissionResponse {
  return { uid, allowed: true }
}

export function denied(uid: string, message: string, code = 403, reason = 'Forbidden'): AdmissionResponse {
  return { uid, allowed: false, status: { metadata: {}, status: 'Failure', code, reason, message } }
}

// Encoded patches by identity: the mutating decision hands out a few frozen constants, so this stays tiny.
const encodedPatches = new WeakMap<object, string>()

export function patched(uid: string, patch: readonly unknown[]): AdmissionResponse {
  // only a frozen patch can be cached: an array the caller may still change is encoded every time
  const cacheable = Object.isFrozen(patch)
  let encoded = cacheable ? encodedPatches.get(patch) : undefined
  if (encoded === undefined) {
    encoded = Buffer.from(JSON.stringify(patch)).toString('base64')
    if (cacheable) encodedPatches.set(patch, encoded)
  }
  return { uid, allowed: true, patchType: 'JSONPatch', patch: encoded }
}

export function withWarnings(res: AdmissionResponse, warnings: string[]): AdmissionResponse {
  if (!warnings.length) return res
  // warnings stay ahead of auditAnnotations, the order the response schema and its encoder write them in
  const { auditAnnotations, ...rest } = res
  const merged = { ...rest, warnings: [...(res.warnings ?? []), ...warnings] }
  return auditAnnotations === undefined ? merged : { ...merged, auditAnnotations }
}

export function withAuditAnnotations(res: AdmissionResponse, annotations: Record<string, string>): AdmissionResponse {
  return Object.keys(annotations).length ? { ...res, auditAnnotations: { ...res.auditAnnotations, ...annotations } } : res
}

/** The review answered in the request's own apiVersion. */
export function reviewResponse(apiVersion: AdmissionApiVersion, response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion, kind: 'AdmissionReview', response }
}

/** A warning as kubectl prints it: one line, at most 256 characters. */
export function warningLine(text: string, max = 256): string {
  const one = text.replace(/\s+/g, ' ').trim()
  if (one.length <= max) return one
  let cut = one.slice(0, max - 3)
  // never leave half of a surrogate pair (an emoji in a user name) at the end
  const last = cut.charCodeAt(cut.length - 1)
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1)
  return cut + '...'
}
