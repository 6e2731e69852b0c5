// decideMutation: what /mutate answers for a Namespace CREATE, as a pure function of (request, view, config).
import t from 'tap'
import { decideMutation } from '../src/decision/mutate.js'
import { NETWORK_POLICIES } from '../src/policy/kinds.js'
import { config, fixture, namespaceObject, namespaceRequest, noFixtures, viewOf, workloadCreate } from './helpers/requests.js'

const LABEL_ADD = [{ op: 'add', path: '/metadata/labels/netpol-guard.io~1deny-all', value: 'injected' }]

t.test('a new namespace is labelled and its injection asked for', async (t) => {
  const d = decideMutation(namespaceRequest('CREATE', 'team-c', {}), viewOf({ namespaces: ['team-a'] }), config())
  t.same(d, { mode: 'enforce', outcome: 'patched', patch: LABEL_ADD, inject: 'team-c' })
})

t.test('a CREATE of a namespace the view holds: labelled, but no injection promised', async (t) => {
  // The apiserver asks mutating webhooks before it finds the name taken; the CREATE then fails with AlreadyExists
  // (and its patch with it). A promise here would make team-b count as covered for the grace period.
  const view = viewOf({ namespaces: ['team-b'] })
  const d = decideMutation(namespaceRequest('CREATE', 'team-b', {}), view, config())
  t.same(d, { mode: 'enforce', outcome: 'already-exists', patch: LABEL_ADD })
  // terminating: the name is still taken
  const terminating = viewOf({ namespaces: [namespaceObject('team-b', { terminating: true })] })
  t.equal(decideMutation(namespaceRequest('CREATE', 'team-b', {}), terminating, config()).outcome, 'already-exists')
  // the name only in the object (no request.name): the same
  const req = namespaceRequest('CREATE', 'team-b', {})
  delete req.name
  t.equal(decideMutation(req, view, config()).outcome, 'already-exists')
  // a namespace the view knows only through its policies (not seen yet) is not taken
  const orphan = viewOf({ policies: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'team-d' }, spec: { podSelector: {} } }] })
  t.equal(decideMutation(namespaceRequest('CREATE', 'team-d', {}), orphan, config()).outcome, 'patched')
})

t.test('exempt, dry-run and request.dryRun namespaces: no patch, no injection', async (t) => {
  const view = viewOf()
  t.same(decideMutation(namespaceRequest('CREATE', 'kube-system', {}), view, config()), { mode: 'enforce', outcome: 'exempt' })
  t.same(decideMutation(namespaceRequest('CREATE', 'x', { 'netpol-guard.io/exempt': 'true' }), view, config()), { mode: 'enforce', outcome: 'exempt' })
  t.same(decideMutation(namespaceRequest('CREATE', 'x', {}), view, config({ mode: 'dry-run' })), { mode: 'dry-run', outcome: 'dry-run', wouldInject: 'x' })
  t.same(decideMutation(namespaceRequest('CREATE', 'x', { 'netpol-guard.io/mode': 'dry-run' }), view, config()), { mode: 'dry-run', outcome: 'dry-run', wouldInject: 'x' })
  t.same(decideMutation(namespaceRequest('CREATE', 'x', {}, undefined, { dryRun: true }), view, config()), { mode: 'enforce', outcome: 'request-dry-run', wouldInject: 'x' })
})

t.test('anything but a Namespace CREATE is not touched', async (t) => {
  const view = viewOf({ namespaces: ['team-a'] })
  t.equal(decideMutation(namespaceRequest('UPDATE', 'team-a', {}, {}), view, config()).outcome, 'not-a-namespace-create')
  t.equal(decideMutation(namespaceRequest('DELETE', 'team-a', {}), view, config()).outcome, 'not-a-namespace-create')
  t.equal(decideMutation(workloadCreate(NETWORK_POLICIES, 'team-a', 'p'), view, config()).outcome, 'not-a-namespace-create')
  t.equal(decideMutation(namespaceRequest('CREATE', 'team-x', {}, undefined, { subResource: 'status' }), view, config()).outcome, 'not-a-namespace-create')
})

t.test('recorded Namespace CREATE: patched when new, untouched when the view already holds it', { skip: noFixtures }, async (t) => {
  const req = fixture('002')
  const name = req.name!
  t.equal(decideMutation(req, viewOf(), config()).inject, name)
  t.equal(decideMutation(req, viewOf({ namespaces: [name] }), config()).outcome, 'already-exists')
})
