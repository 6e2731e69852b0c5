// The routes' JSON body parser: for any text it returns what secure-json-parse (Fastify's default parser) returns,
// and refuses what it refuses, with the same error; the one-scan shortcut changes only the cost.
import t from 'tap'
import fc from 'fast-check'
import secureJson from 'secure-json-parse'
import { isDeepStrictEqual } from 'node:util'
import { DENSITY_CHECK_BYTES, MAX_NESTING_DEPTH, MIN_BYTES_PER_CONTAINER, parseJsonBody, refusedUnparsed } from '../src/server/json-body.js'

const FORBIDDEN = 'Object contains forbidden prototype property'

const SCALE = Math.max(0.01, Number(process.env.FUZZ_SCALE ?? 1))

type Outcome = { value: unknown } | { error: string; type: string }

function outcome(f: () => unknown): Outcome {
  try {
    return { value: f() }
  } catch (e) {
    return { error: (e as Error).message, type: (e as Error).constructor.name }
  }
}

const expected = (text: string): Outcome => outcome(() => secureJson.parse(text, { protoAction: 'error', constructorAction: 'error' }))
const actual = (text: string): Outcome => outcome(() => parseJsonBody(text))

// Keys near the forbidden ones; each character may be written as a \u escape (either hex case), and the colon may
// follow white space: every spelling the regexes have to catch, and near misses they must not.
const keyName = fc.constantFrom('__proto__', 'constructor', 'prototype', '_proto__', '__proto_', 'Constructor', 'constructors', 'a', '')
const spelledKey = fc.tuple(keyName, fc.array(fc.boolean(), { maxLength: 12 }), fc.boolean(), fc.constantFrom('', ' ', '\n\t ')).map(([name, escaped, upper, space]) => {
  let out = '"'
  for (let i = 0; i < name.length; i++) {
    const hex = name.charCodeAt(i).toString(16).padStart(4, '0')
    out += escaped[i] ? '\\u' + (upper ? hex.toUpperCase() : hex) : name[i]
  }
  return out + '"' + space
})

const { json } = fc.letrec<{ json: string; leaf: string; array: string; object: string }>((tie) => ({
  leaf: fc.oneof(
    fc.constantFrom('null', 'true', '1', '-0.5e3', '""', '"constructor"', '"__proto__"', '"prototype"'),
    fc.string().map((s) => JSON.stringify(s)),
  ),
  array: fc.array(tie('json'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
  object: fc.array(fc.tuple(spelledKey, tie('json')), { maxLength: 4 }).map((kvs) => `{${kvs.map(([k, v]) => `${k}:${v}`).join(',')}}`),
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
}))

// Texts that are not JSON, or only nearly: cut, spliced, with a byte-order mark.
const mutated = fc.tuple(json, fc.nat(), fc.string({ maxLength: 3 })).map(([s, at, junk]) => {
  const i = at % (s.length + 1)
  return s.slice(0, i) + junk + s.slice(i + (at % 2))
})
const anyText = fc.oneof(json, mutated, json.map((s) => '\ufeff' + s), fc.string())

t.test('returns and refuses exactly what secure-json-parse does', async (t) => {
  const seen = { parsed: 0, forbidden: 0, notJson: 0 }
  fc.assert(
    fc.property(anyText, (text) => {
      const want = expected(text)
      const got = actual(text)
      if (!('value' in want)) seen[want.error === FORBIDDEN ? 'forbidden' : 'notJson']++
      else seen.parsed++
      return isDeepStrictEqual(got, want)
    }),
    { numRuns: Math.ceil(3000 * SCALE) },
  )
  // the generator reaches all three outcomes, so the property is not vacuous
  t.ok(seen.parsed > 0 && seen.forbidden > 0 && seen.notJson > 0, JSON.stringify(seen))
})

t.test('the cases the shortcut must not miss', async (t) => {
  const refused = [
    '{"__proto__":{"x":1}}',
    '{"a":[{"__proto__":null}]}',
    '{"\\u005f_proto__":{}}',
    '{"__pro\\u0074o__" : 1}',
    '{"constructor":{"prototype":{"x":1}}}',
    '{"a":{"\\u0063onstructor":{"prototype":null}}}',
  ]
  for (const text of refused) {
    t.same(actual(text), { error: FORBIDDEN, type: 'SyntaxError' }, text)
    t.same(actual(text), expected(text))
  }
  const accepted: [string, unknown][] = [
    ['{"constructor":"x"}', { constructor: 'x' }],
    ['{"metadata":{"annotations":{"constructor":"y"}}}', { metadata: { annotations: { constructor: 'y' } } }],
    ['{"env":[{"name":"__proto__","value":"z"}]}', { env: [{ name: '__proto__', value: 'z' }] }],
    ['\ufeff{"a":1}', { a: 1 }],
    ['"__proto__"', '__proto__'],
    ['null', null],
  ]
  for (const [text, value] of accepted) {
    const got = actual(text)
    t.ok('value' in got, text)
    t.same(got, { value }, text)
    t.same(got, expected(text))
  }
  t.same(actual('{"a":'), { error: 'Unexpected end of JSON input', type: 'SyntaxError' })
})

t.test('a body with a suspect key is parsed once: its objects are scanned, not rebuilt', async (t) => {
  // A second parse held a second copy of every object: for a 6 MiB body of small objects, more than the heap.
  const parse = JSON.parse
  let calls = 0
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    calls++
    return parse(text, reviver)
  }) as typeof JSON.parse
  try {
    t.same(parseJsonBody('{"constructor":"x","a":[{},{}]}'), { constructor: 'x', a: [{}, {}] })
    t.equal(calls, 1, 'accepted: one JSON.parse')
    calls = 0
    t.throws(() => parseJsonBody('{"a":{"constructor":{"prototype":{}}}}'), { name: 'SyntaxError', message: FORBIDDEN })
    t.equal(calls, 1, 'refused: one JSON.parse')
  } finally {
    JSON.parse = parse
  }
})

t.test('refusedUnparsed: a body over 1 MiB with more than one object or array per 8 bytes', async (t) => {
  // n containers padded to the given length with spaces inside a string.
  const body = (containers: number, length: number): string => {
    const core = `{"a":[${Array(containers - 2).fill('{}').join(',')}],"p":""}`
    return core.slice(0, -2) + ' '.repeat(length - core.length) + '"}'
  }
  const length = DENSITY_CHECK_BYTES + 800
  const most = Math.floor(length / MIN_BYTES_PER_CONTAINER)
  t.equal(body(most, length).length, length)
  t.equal(refusedUnparsed(body(most, length)), undefined, 'one per 8 bytes: parsed')
  t.match(refusedUnparsed(body(most + 1, length)), new RegExp(`^request body is too dense to be a Kubernetes object: more than ${most} JSON objects and arrays in ${length} characters`))
  const small = `[${Array(Math.floor(DENSITY_CHECK_BYTES / 3) - 1).fill('{}').join(',')}]`
  t.ok(small.length <= DENSITY_CHECK_BYTES)
  t.equal(refusedUnparsed(small), undefined, 'up to 1 MiB, not checked: ~21 MiB of objects at worst')
  t.match(refusedUnparsed(`[${small}, 1]`), /too dense/, 'just over 1 MiB, checked')
})

t.test('refusedUnparsed: a body over 1 MiB nesting deeper than 10,000 levels; brackets in strings do not count', async (t) => {
  const pad = (core: string) => core.replace('"p":""', `"p":"${' '.repeat(DENSITY_CHECK_BYTES)}"`)
  const nested = (depth: number) => pad(`{"p":"","x":${'['.repeat(depth - 1)}0${']'.repeat(depth - 1)}}`)
  t.equal(refusedUnparsed(nested(MAX_NESTING_DEPTH)), undefined, '10,000 levels: parsed')
  t.equal(refusedUnparsed(nested(MAX_NESTING_DEPTH + 1)), `request body nests JSON objects and arrays more than ${MAX_NESTING_DEPTH} levels deep (the API server's own limit)`)
  // siblings are not nesting
  t.equal(refusedUnparsed(pad(`{"p":"","x":[${Array(20_000).fill('[0]').join(',')}]}`)), undefined)
  // brackets inside strings, escaped quotes among them, are text
  const inStrings = pad(`{"p":"","x":["${'[{'.repeat(200_000)}","\\"${'['.repeat(20_000)}"]}`)
  t.equal(JSON.parse(inStrings).x.length, 2)
  t.equal(refusedUnparsed(inStrings), undefined)
  // "\\" is a string of one backslash: the quote after it ends the string, and the brackets that follow are JSON
  const afterBackslash = pad(String.raw`{"p":"","x":["\\",` + '['.repeat(20_000) + ']'.repeat(20_000) + ']}')
  t.equal(JSON.parse(afterBackslash).x[0], '\\')
  t.match(refusedUnparsed(afterBackslash), /nests JSON/, 'an escaped backslash before a quote ends the string')
})
