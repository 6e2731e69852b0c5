// The JSON body parser of the guard's routes: what Fastify's default parser does (secure-json-parse: a body with
// a "__proto__" key, or a "constructor" key holding a "prototype", is refused), with its two scans of the text made
// one.
//
// secure-json-parse parses, then tests the text with one regex for "__proto__": keys and another for
// "constructor": keys (each also spelled with \u escapes), and walks the parsed object only when either matches.
// Every review pays for both scans, ~0.65 µs for a 2 KB review. One regex with both alternatives finds the same
// bodies in one pass (~0.4 µs); the object parsed from a body it finds is handed to secure-json-parse's own scan
// (what its parse does after JSON.parse), so what is refused is exactly what it refuses (test/json-body.test.ts
// checks both against each other), and the text is not parsed twice: a second copy of a 6 MiB body's objects was
// enough to exhaust the heap the Deployment gives.
//
// Most reviews hold neither key, and then the regex, which tries a match at every '"' of the text, is still the
// largest single cost of a request (~10,000 of its ~260,000 instructions, callgrind). It can only match where
// "__proto__" or "constructor" is spelled out or where one of its \u escapes (all of them \u00XX) is written, so
// a text without any of those three is passed by one search for them first. One regex of the three literals, not
// three indexOf calls: a review carries dozens of backslashes (the last-applied-configuration annotation is JSON in
// a string), each a false start for a search of "\u", and three passes over 2-3 KB took ~730 ns where the one
// regex takes ~370 (the bench's mix, in a loop).
import secureJson from 'secure-json-parse'

// secure-json-parse's suspectProtoRx and suspectConstructorRx, as the two branches of one group.
const SUSPECT_KEY =
  /"(?:(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])|(?:c|\\u0063)(?:o|\\u006[Ff])(?:n|\\u006[Ee])(?:s|\\u0073)(?:t|\\u0074)(?:r|\\u0072)(?:u|\\u0075)(?:c|\\u0063)(?:t|\\u0074)(?:o|\\u006[Ff])(?:r|\\u0072))"\s*:/

const OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const

/**
 * JSON.parse, refusing what Fastify's default parser refuses. Throws a SyntaxError for text that is not JSON and
 * for a body with a forbidden key ("Object contains forbidden prototype property").
 */
export function parseJsonBody(text: string): unknown {
  const body = withoutBom(text)
  const value: unknown = JSON.parse(body)
  if (value === null || typeof value !== 'object' || !mayHoldSuspectKey(body)) return value
  secureJson.scan(value, OPTIONS)
  return value
}

/** The text without a leading byte order mark, which JSON.parse would refuse. */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

// What every match of SUSPECT_KEY contains: one of its \u escapes, or one of the two names spelled out.
const SUSPECT_KEY_PART = /\\u00|__proto__|constructor/

function mayHoldSuspectKey(body: string): boolean {
  return SUSPECT_KEY_PART.test(body) && SUSPECT_KEY.test(body)
}

/** Bodies longer than this are checked for their density and nesting before they are parsed. */
export const DENSITY_CHECK_BYTES = 1024 * 1024

/** In a body over DENSITY_CHECK_BYTES, one object or array per this many bytes at most. */
export const MIN_BYTES_PER_CONTAINER = 8

/** Objects and arrays nest at most this deep in a body over DENSITY_CHECK_BYTES: Go's encoding/json limit. */
export const MAX_NESTING_DEPTH = 10_000

/**
 * Why a large body is refused unparsed, or undefined. Parsing makes an object of every `{}` in the text: 6 MiB of
 * `{},{},…` becomes 2 million objects, ~130 MiB of heap (21 bytes per byte of text), more than the pod is given,
 * and a second or more of blocked event loop. A Kubernetes object is far sparser: a Pod has one object per ~40
 * bytes, a NetworkPolicy listing ipBlocks one per ~18, and the densest part of any object, the server-side-apply
 * managedFields (`"f:name":{}`), one per 10-12. Nesting is bounded too: V8's parser keeps a frame of its own (outside
 * the heap) per level, and 6 MiB of `[0,0,0,[…` nest 786,000 deep, which the API server, whose JSON decoder stops
 * at 10,000 levels, never sends. Brackets and braces inside strings are not counted.
 */
export function refusedUnparsed(text: string): string | undefined {
  if (text.length <= DENSITY_CHECK_BYTES) return undefined
  const most = Math.floor(text.length / MIN_BYTES_PER_CONTAINER)
  let containers = 0
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash: the next character is escaped (a quote among them)
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++containers > most) {
        return `request body is too dense to be a Kubernetes object: more than ${most} JSON objects and arrays in ${text.length} characters (at most one per ${MIN_BYTES_PER_CONTAINER} in a body over ${DENSITY_CHECK_BYTES / 1048576} MiB)`
      }
      if (++depth > MAX_NESTING_DEPTH) return `request body nests JSON objects and arrays more than ${MAX_NESTING_DEPTH} levels deep (the API server's own limit)`
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return undefined
}
