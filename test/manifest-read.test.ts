// Reading manifest and state files: JSON text takes JSON.parse instead of the YAML parser, and must come out as
// the very objects the YAML parser makes of it (JSON is YAML); text that is not JSON still goes to the YAML parser.
import t from 'tap'
import fc from 'fast-check'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { parseAllDocuments } from 'yaml'
import { duplicateKey, ManifestError, parseObjects, readObjectsFile } from '../src/manifests/read.js'
import { generateState } from '../bench/workload.js'
import { DEMO_STATE, fixture, fixtureNames, haveFixtures } from './helpers/server.js'

const SCALE = Math.max(0.01, Number(process.env.FUZZ_SCALE ?? 1))

/** What the YAML parser alone makes of the text: the objects, Lists flattened (the oracle). */
function viaYaml(text: string): unknown[] {
  const out: unknown[] = []
  const add = (v: unknown): void => {
    const o = v as { kind?: unknown; items?: unknown }
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) o.items.forEach(add)
    else out.push(v)
  }
  for (const doc of parseAllDocuments(text, { uniqueKeys: false }) as ReturnType<typeof parseAllDocuments> & unknown[]) {
    if (doc.errors.length > 0) throw new Error(`the oracle cannot parse the text: ${doc.errors[0]!.message}`)
    const v: unknown = doc.toJS({ maxAliasCount: 100 })
    if (v !== null && v !== undefined) add(v)
  }
  return out
}

t.test('JSON text gives the objects the YAML parser gives', async (t) => {
  // Any JSON values inside Kubernetes-shaped objects, as one object or a List, compact or indented.
  const object = fc.record({ kind: fc.constantFrom('Namespace', 'NetworkPolicy'), apiVersion: fc.constant('v1'), metadata: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), spec: fc.jsonValue({ maxDepth: 4 }) })
  const text = fc.tuple(fc.oneof(object, fc.array(object, { maxLength: 5 }).map((items) => ({ apiVersion: 'v1', kind: 'List', items }))), fc.constantFrom(undefined, 2), fc.constantFrom('', '\n', '  \n'))
    .map(([value, indent, lead]) => lead + JSON.stringify(value, null, indent))
  let checked = 0
  fc.assert(
    fc.property(text, (s) => {
      checked++
      return isDeepStrictEqual(parseObjects(s, 'f.json'), viaYaml(s))
    }),
    { numRuns: Math.ceil(1000 * SCALE), seed: 0x5eed },
  )
  t.ok(checked > 0)

  // The bench's state file and what the apiserver sent (recorded AdmissionReviews' objects), as real input.
  const state = JSON.stringify(generateState(50), null, 2)
  t.same(parseObjects(state, 's.json'), viaYaml(state))
  t.equal(parseObjects(state, 's.json').length, viaYaml(state).length)
  if (haveFixtures()) {
    let compared = 0
    for (const name of fixtureNames()) {
      const obj = (fixture(name) as { request?: { object?: { kind?: unknown } | null } }).request?.object
      if (!obj || typeof obj.kind !== 'string') continue
      const s = JSON.stringify(obj)
      t.ok(isDeepStrictEqual(parseObjects(s, name), viaYaml(s)), name)
      compared++
    }
    t.ok(compared > 0, 'recorded objects compared')
  }
  // The demo state file is YAML: still read by the YAML parser.
  const demo = readFileSync(DEMO_STATE, 'utf8')
  t.ok(viaYaml(demo).length > 0)
  t.same(parseObjects(demo, DEMO_STATE), viaYaml(demo))
})

t.test('text that is not JSON goes to the YAML parser', async (t) => {
  // A YAML flow mapping starts like JSON but is not JSON.
  t.same(parseObjects('{kind: Namespace, apiVersion: v1, metadata: {name: a}}', 'f.yaml'), [{ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'a' } }])
  // Several documents, each of them JSON: YAML's document separators.
  t.same(parseObjects('{"kind":"Namespace","apiVersion":"v1"}\n---\n{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"b"}}\n', 'f.yaml').length, 2)
  // A byte order mark before JSON.
  t.same(parseObjects('\ufeff{"kind":"Namespace","apiVersion":"v1"}', 'f.json'), [{ kind: 'Namespace', apiVersion: 'v1' }])
  // Broken JSON is reported by the YAML parser, with the file and document.
  t.throws(() => parseObjects('{"kind": "Namespace", "apiVersion": ', 'broken.json'), { constructor: ManifestError, message: /^broken\.json: document 1: not valid YAML\/JSON: / })
  // JSON that is not an object: the same messages as before.
  t.throws(() => parseObjects('[1, 2]', 'a.json'), { message: 'a.json: document 1: expected a Kubernetes object (a mapping), got a list' })
  t.throws(() => parseObjects('{"apiVersion": "v1"}', 'a.json'), { message: 'a.json: document 1: object has no kind' })
  t.throws(() => parseObjects('{"kind": "List", "apiVersion": "v1", "items": [{"kind": "Pod"}]}', 'a.json'), { message: 'a.json: document 1 item 1: Pod has no apiVersion' })
  t.throws(() => parseObjects('{"kind": "PodList", "apiVersion": "v1", "items": {"kind": "Pod"}}', 'a.json'), { constructor: ManifestError, message: 'a.json: document 1: PodList items must be a list, got object' })
  t.throws(() => parseObjects('kind: List\napiVersion: v1\nitems: null\n', 'a.yaml'), { message: 'a.yaml: document 1: List items must be a list, got null' })
  // `kind: List` without items: an empty list.
  t.same(parseObjects('kind: List\napiVersion: v1\n', 'a.yaml'), [])
  t.same(parseObjects('{"kind": "List", "apiVersion": "v1"}', 'a.json'), [])
})

t.test('readObjectsFile reads a JSON state file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'netpol-guard-read-'))
  const file = join(dir, 'state.json')
  const state = generateState(20)
  writeFileSync(file, JSON.stringify(state))
  const objects = readObjectsFile(file)
  t.equal(objects.length, state.items.length)
  t.ok(objects.filter((o) => o.kind === 'Namespace').length >= 20)
  t.same(objects, viaYaml(readFileSync(file, 'utf8')))
  t.throws(() => readObjectsFile(join(dir, 'missing.json')), { message: /missing\.json: cannot read file \(ENOENT\)/ })
})

t.test('JSON text does not reach the YAML parser; YAML text does', async (t) => {
  const yaml = await import('yaml')
  let calls = 0
  const { parseObjects: parse } = await t.mockImport<typeof import('../src/manifests/read.js')>('../src/manifests/read.js', {
    yaml: { ...yaml, parseAllDocuments: (...args: Parameters<typeof yaml.parseAllDocuments>) => (calls++, yaml.parseAllDocuments(...args)) },
  })
  t.equal(parse(JSON.stringify(generateState(10)), 's.json').length, generateState(10).items.length)
  t.equal(calls, 0, 'JSON.parse read the JSON file')
  t.equal(parse('kind: Namespace\napiVersion: v1\n', 's.yaml').length, 1)
  t.equal(calls, 1, 'the YAML parser read the YAML file')
  t.equal(parse('{kind: Namespace, apiVersion: v1}', 's.yaml').length, 1)
  t.equal(calls, 2, 'and the flow mapping that is not JSON')
})

t.test('a key twice in one JSON object is bad input, as in YAML', async (t) => {
  t.throws(() => parseObjects('{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","name":"b"}}', 'd.json'), {
    name: 'Error',
    message: 'd.json: document 1: not valid JSON: key "name" appears twice in one object',
  })
  t.throws(() => parseObjects('apiVersion: v1\nkind: Namespace\nmetadata: {name: a, name: b}\n', 'd.yaml'), /d\.yaml: document 1: not valid YAML\/JSON: Map keys must be unique/)
  // Equal keys in different objects, a key equal to a value, and keys in arrays' objects are not duplicates.
  t.equal(duplicateKey('{"a":{"a":1},"b":[{"a":1},{"a":2}],"c":"a"}'), undefined)
  t.equal(duplicateKey('{"a":1, "\\u0061" :2}'), 'a', 'compared as JSON reads them')
  t.equal(duplicateKey('{"x":"\\"a\\":","x":1}'), 'x', 'a quote escaped in a value is not the end of it')

  // Any nesting of objects (as key/value pairs, keys drawn from few names so that some repeat) and arrays, each
  // key written plainly or with \u escapes: duplicateKey finds one exactly when some object holds a key twice.
  type Node = { pairs: [string, Node][] } | { items: Node[] } | number
  const { node } = fc.letrec<{ node: Node }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.integer(),
      fc.array(fc.tuple(fc.constantFrom('a', 'b', 'é', 'a"b', ''), tie('node')), { maxLength: 4 }).map((pairs) => ({ pairs })),
      fc.array(tie('node'), { maxLength: 3 }).map((items) => ({ items })),
    ),
  }))
  const hasTwice = (n: Node): boolean =>
    typeof n === 'number' ? false : 'items' in n ? n.items.some(hasTwice) : new Set(n.pairs.map(([k]) => k)).size < n.pairs.length || n.pairs.some(([, v]) => hasTwice(v))
  const write = (n: Node, escape: boolean): string =>
    typeof n === 'number'
      ? String(n)
      : 'items' in n
        ? `[${n.items.map((v) => write(v, escape)).join(', ')}]`
        : `{${n.pairs.map(([k, v]) => `${escape ? '"' + [...k].map((ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0')).join('') + '"' : JSON.stringify(k)} : ${write(v, escape)}`).join(',')}}`
  fc.assert(
    fc.property(node, fc.boolean(), (n, escape) => {
      const text = write(n, escape)
      JSON.parse(text) // the writer makes JSON
      return (duplicateKey(text) !== undefined) === hasTwice(n)
    }),
    { numRuns: Math.ceil(2000 * SCALE), seed: 0xd0b1e },
  )
})
