// What the decisions read of an object's labels: the guard's own, read without copying the rest.
import t from 'tap'
import { guardLabelsOf, labelsOf } from '../src/k8s/types.js'

t.test('guardLabelsOf: the netpol-guard.io/ labels with string values, nothing else', async (t) => {
  const ns = { metadata: { labels: { 'netpol-guard.io/mode': 'dry-run', 'netpol-guard.io/exempt': 'true', 'netpol-guard.io/odd': 7, app: 'web', 'netpol-guard.iox/y': 'z', 'other/netpol-guard.io/x': 'w' } } }
  t.same(guardLabelsOf(ns), { 'netpol-guard.io/mode': 'dry-run', 'netpol-guard.io/exempt': 'true' })
  for (const odd of [undefined, null, 'ns', [], { metadata: null }, { metadata: { labels: ['netpol-guard.io/mode'] } }, { metadata: { labels: 'x' } }]) t.same(guardLabelsOf(odd), {}, JSON.stringify(odd))
  // the same as the guard's labels among all of them
  const all = labelsOf(ns)
  t.same(guardLabelsOf(ns), Object.fromEntries(Object.entries(all).filter(([k]) => k.startsWith('netpol-guard.io/'))))
})

t.test('guardLabelsOf: numeric label keys (kept in V8 elements) are read too, and inherited keys are not', async (t) => {
  const labels = Object.assign(Object.create({ 'netpol-guard.io/inherited': 'x' }), { '1': 'a', 'netpol-guard.io/mode': 'enforce' })
  t.same(guardLabelsOf({ metadata: { labels } }), { 'netpol-guard.io/mode': 'enforce' })
})
