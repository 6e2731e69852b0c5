// NameTable: the cluster view's string-keyed table must hold and answer what a Map would (the order of keys aside:
// nothing relies on it), for any key a name can be, including the ones a plain object treats specially.
import t from 'tap'
import fc from 'fast-check'
import { NameTable } from '../src/view/name-table.js'

const SPECIAL = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '123', '0', '-1', '1.5', '4294967295', '', 'team-a', 'a'.repeat(70)]
const key = fc.oneof(fc.constantFrom(...SPECIAL), fc.string({ maxLength: 12 }))

type Op = { op: 'set'; key: string; value: number } | { op: 'delete'; key: string }

t.test('answers as a Map over random sequences of set and delete', async (t) => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }),
    fc.record({ op: fc.constant('delete' as const), key }),
  )
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), fc.array(key, { maxLength: 10 }), (ops, probes) => {
      const table = new NameTable<{ v: number }>()
      const model = new Map<string, { v: number }>()
      for (const o of ops) {
        if (o.op === 'set') {
          const v = { v: o.value }
          table.set(o.key, v)
          model.set(o.key, v)
        } else if (table.delete(o.key) !== model.delete(o.key)) return false
      }
      if (table.size !== model.size) return false
      for (const k of [...probes, ...SPECIAL, ...model.keys()]) {
        if (table.get(k) !== model.get(k) || table.has(k) !== model.has(k)) return false
      }
      // the same entries (order aside: index-like keys enumerate first)
      const sorted = <T>(xs: Iterable<T>, f: (x: T) => string) => [...xs].map(f).sort()
      if (JSON.stringify(sorted(table.keys(), (k) => k)) !== JSON.stringify(sorted(model.keys(), (k) => k))) return false
      if (JSON.stringify(sorted(table, ([k, v]) => `${k}=${v.v}`)) !== JSON.stringify(sorted(model, ([k, v]) => `${k}=${v.v}`))) return false
      return JSON.stringify(sorted(table.values(), (v) => String(v.v))) === JSON.stringify(sorted(model.values(), (v) => String(v.v)))
    }),
    { numRuns: 1000 },
  )
})

t.test('no inherited names, and __proto__ is a plain key', async (t) => {
  const table = new NameTable<number>()
  t.equal(table.get('constructor'), undefined)
  t.equal(table.get('toString'), undefined)
  t.notOk(table.has('__proto__'))
  table.set('__proto__', 1)
  t.equal(table.get('__proto__'), 1)
  t.equal(table.size, 1)
  t.same([...table.keys()], ['__proto__'])
  t.ok(table.delete('__proto__'))
  t.equal(table.size, 0)
})

t.test('set replaces without growing', async (t) => {
  const table = new NameTable<string>().set('a', 'x').set('b', 'y')
  table.set('a', 'z')
  t.equal(table.size, 2)
  t.equal(table.get('a'), 'z')
  t.notOk(table.delete('missing'))
  t.equal(table.size, 2)
})
