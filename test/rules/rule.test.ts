// The helpers every rule's message goes through: oneLine (request text made safe for a one-line message), describeObject.
import t from 'tap'
import type { AdmissionRequest } from '../../src/k8s/types.js'
import { describeObject, nonBlank, oneLine } from '../../src/rules/rule.js'

t.test('oneLine: line breaks, tabs and control characters become one space; other text is kept', async (t) => {
  t.equal(oneLine('team-a/web-0'), 'team-a/web-0')
  t.equal(oneLine('café ünïcode 名前'), 'café ünïcode 名前', 'letters of any script stay')
  t.equal(oneLine('a\nb\r\nc\td'), 'a b c d')
  t.equal(oneLine('a\u2028b\u2029c\u0085d'), 'a b c d', 'Unicode line and paragraph separators, NEL')
  t.equal(oneLine('\u001b[31mred\u001b[0m'), '[31mred [0m', 'a terminal escape loses its ESC')
  t.equal(oneLine('x\u0000y\u007fz\u009b'), 'x y z')
  t.equal(oneLine('  \n padded \n '), 'padded')
})

t.test('nonBlank: a string with something in it', async (t) => {
  t.equal(nonBlank('x'), 'x')
  t.equal(nonBlank(' \t'), undefined)
  t.equal(nonBlank(3), undefined)
})

t.test('describeObject: a kind or name with white space around it does not leave a gap in the message', async (t) => {
  const req = {
    uid: 'u',
    kind: { group: 'crd.projectcalico.org', version: 'v1', kind: ' !' },
    resource: { group: 'crd.projectcalico.org', version: 'v1', resource: 'globalnetworkpolicies' },
    name: 'default-deny-egress ',
    operation: 'CREATE',
  } as unknown as AdmissionRequest
  t.equal(describeObject(req), '! default-deny-egress')
  t.equal(describeObject({ ...req, namespace: ' team-a', kind: { ...req.kind, kind: 'Pod\t' } } as AdmissionRequest), 'Pod team-a/default-deny-egress')
})
