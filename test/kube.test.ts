// What the live layer reads from client-node's typed objects must be what the API server sent.
import t from 'tap'
import { plainObject } from '../src/live/kube.js'
import { summarizePolicy } from '../src/policy/coverage.js'

t.test('client-node renames `from` to `_from`; plainObject renames it back and turns Dates into strings', async (t) => {
  const typed = {
    metadata: { name: 'allow-web', namespace: 'a', creationTimestamp: new Date('2026-01-01T00:00:00Z') },
    spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ _from: [{ podSelector: { matchLabels: { app: 'x' } } }] }] },
  }
  const wire = plainObject(typed) as any
  t.same(wire.spec.ingress[0], { from: [{ podSelector: { matchLabels: { app: 'x' } } }] })
  t.equal(wire.metadata.creationTimestamp, '2026-01-01T00:00:00.000Z')
  t.equal(summarizePolicy(wire).allowAllIngress, false, 'a rule with peers is not allow-all')
  t.equal(summarizePolicy(typed as any).allowAllIngress, true, 'read raw, the same rule would look like allow-all')
})
