// protect-guard-labels: only privileged users may set, change or remove netpol-guard.io/ labels on a Namespace.
import t from 'tap'
import type { AdmissionRequest, Namespace, UserInfo } from '../../src/k8s/types.js'
import { protectGuardLabels } from '../../src/rules/protect-guard-labels.js'
import {
  ADMIN,
  admissionRequest,
  assertMessage,
  config,
  ctx,
  DEVELOPER,
  fixture,
  namespaceRequest,
  noFixtures,
  objectOf,
  serviceAccount,
  viewOf,
  workloadCreate,
} from '../helpers/requests.js'
import { NAMESPACES, POD_WORKLOADS } from '../../src/policy/kinds.js'

const evaluate = (req: AdmissionRequest, cfg = config()) => protectGuardLabels.evaluate(ctx(req, viewOf({ namespaces: ['team-a'] }), cfg))
const base = { 'kubernetes.io/metadata.name': 'team-a' }
const as = (user: UserInfo) => ({ userInfo: user })

t.test('a normal user may not set, change or remove a netpol-guard.io/ label', async (t) => {
  const cases: Array<[string, 'CREATE' | 'UPDATE', Record<string, string>, Record<string, string> | undefined, RegExp]> = [
    ['CREATE with exempt', 'CREATE', { 'netpol-guard.io/exempt': 'true' }, undefined, /set netpol-guard\.io\/exempt=true/],
    ['CREATE with mode dry-run', 'CREATE', { 'netpol-guard.io/mode': 'dry-run' }, undefined, /set netpol-guard\.io\/mode=dry-run/],
    ['CREATE with deny-all: something else', 'CREATE', { 'netpol-guard.io/deny-all': 'skip' }, undefined, /set netpol-guard\.io\/deny-all=skip/],
    ['CREATE with an unknown guard label', 'CREATE', { 'netpol-guard.io/anything': 'x' }, undefined, /netpol-guard\.io\/anything/],
    ['UPDATE sets exempt', 'UPDATE', { 'netpol-guard.io/exempt': 'true' }, {}, /set netpol-guard\.io\/exempt=true/],
    ['UPDATE sets mode', 'UPDATE', { 'netpol-guard.io/mode': 'dry-run' }, {}, /set netpol-guard\.io\/mode/],
    ['UPDATE changes exempt', 'UPDATE', { 'netpol-guard.io/exempt': 'true' }, { 'netpol-guard.io/exempt': 'false' }, /change netpol-guard\.io\/exempt/],
    ['UPDATE changes mode', 'UPDATE', { 'netpol-guard.io/mode': 'dry-run' }, { 'netpol-guard.io/mode': 'enforce' }, /change netpol-guard\.io\/mode/],
    ['UPDATE removes exempt', 'UPDATE', {}, { 'netpol-guard.io/exempt': 'true' }, /remove netpol-guard\.io\/exempt/],
    ['UPDATE removes deny-all: injected', 'UPDATE', {}, { 'netpol-guard.io/deny-all': 'injected' }, /remove netpol-guard\.io\/deny-all/],
    ['UPDATE changes deny-all: injected', 'UPDATE', { 'netpol-guard.io/deny-all': 'no' }, { 'netpol-guard.io/deny-all': 'injected' }, /change netpol-guard\.io\/deny-all/],
    ['UPDATE sets deny-all: injected (only the guard does that, on CREATE)', 'UPDATE', { 'netpol-guard.io/deny-all': 'injected' }, {}, /set netpol-guard\.io\/deny-all=injected/],
  ]
  for (const [name, op, labels, oldLabels, phrase] of cases) {
    const req = namespaceRequest(op, 'team-a', { ...base, ...labels }, oldLabels && { ...base, ...oldLabels }, as(DEVELOPER))
    const f = evaluate(req)
    assertMessage(t, f, 'protect-guard-labels', 'Namespace team-a', [phrase, /\bjane\b/, /platform team/])
    t.notMatch(f?.message ?? '', /Namespace team-a\/team-a/, `${name}: a Namespace is named once, not as namespace/name`)
  }
})

t.test('several changes are all listed', async (t) => {
  const req = namespaceRequest('UPDATE', 'team-a', { 'netpol-guard.io/exempt': 'true' }, { 'netpol-guard.io/mode': 'dry-run' }, as(DEVELOPER))
  assertMessage(t, evaluate(req), 'protect-guard-labels', 'Namespace team-a', [/set netpol-guard\.io\/exempt=true/, /remove netpol-guard\.io\/mode/])
})

t.test('privileged users and groups may', async (t) => {
  const req = (user: UserInfo) => namespaceRequest('UPDATE', 'team-a', { 'netpol-guard.io/exempt': 'true' }, {}, as(user))
  t.equal(evaluate(req(ADMIN)), undefined, 'group system:masters (default)')
  t.equal(evaluate(req(serviceAccount('netpol-guard', 'netpol-guard'))), undefined, "the guard's ServiceAccount (defaults)")

  const cfg = config({ namespace: 'guard-system', serviceAccount: 'guard', privilegedUsers: ['alice'], privilegedGroups: ['platform-admins'] })
  t.equal(evaluate(req(serviceAccount('guard-system', 'guard')), cfg), undefined, "the configured guard SA: system:serviceaccount:<namespace>:<serviceAccount>")
  t.ok(evaluate(req(serviceAccount('netpol-guard', 'netpol-guard')), cfg), 'the default SA name is no longer privileged')
  t.ok(evaluate(req(serviceAccount('guard-system', 'other')), cfg), 'another SA of the guard namespace is not')
  t.equal(evaluate(req({ username: 'alice', groups: ['system:authenticated'] }), cfg), undefined, 'config.privilegedUsers')
  t.equal(evaluate(req({ username: 'bob', groups: ['platform-admins', 'system:authenticated'] }), cfg), undefined, 'config.privilegedGroups')
  t.ok(evaluate(req(ADMIN), cfg), 'system:masters is only the default: replaced by privilegedGroups')
  t.ok(evaluate(req({ username: 'system:masters', groups: [] })), 'a user named like the group is not in it')
  t.ok(evaluate(req({ username: 'carol' })), 'no groups at all')
  t.ok(evaluate(req({})), 'anonymous userInfo')
})

t.test('the guard’s own mutation on CREATE passes', async (t) => {
  const req = namespaceRequest('CREATE', 'team-a', { ...base, 'netpol-guard.io/deny-all': 'injected' }, undefined, as(DEVELOPER))
  t.equal(evaluate(req), undefined, 'deny-all: injected')
  const more = namespaceRequest('CREATE', 'team-a', { ...base, 'netpol-guard.io/deny-all': 'injected', 'netpol-guard.io/exempt': 'true' }, undefined, as(DEVELOPER))
  assertMessage(t, evaluate(more), 'protect-guard-labels', 'Namespace team-a', [/set netpol-guard\.io\/exempt=true/])
  t.notMatch(evaluate(more)?.message ?? '', /deny-all/, 'the injected label is not held against the user')
})

t.test('recorded Namespace requests', { skip: noFixtures }, async (t) => {
  // 002 is the validating CREATE after the (test) mutating webhook: it carries kapi.example/mutated-by,
  // not a netpol-guard.io/ label.
  const created = fixture('002')
  t.same(Object.keys((created.object as Namespace).metadata?.labels ?? {}).sort(), ['kapi.example/mutated-by', 'kubernetes.io/metadata.name'])
  t.equal(evaluate(created), undefined, '002 as recorded (admin)')
  const byDev = fixture('002')
  byDev.userInfo = DEVELOPER
  t.equal(evaluate(byDev), undefined, '002 by a normal user')

  // 002 as it reaches the validating webhook behind netpol-guard's own /mutate.
  const injected = fixture('002')
  injected.userInfo = DEVELOPER
  ;(injected.object as Namespace).metadata!.labels!['netpol-guard.io/deny-all'] = 'injected'
  t.equal(evaluate(injected), undefined, '002 with netpol-guard.io/deny-all: injected')
  const exempted = fixture('002')
  exempted.userInfo = DEVELOPER
  ;(exempted.object as Namespace).metadata!.labels!['netpol-guard.io/exempt'] = 'true'
  assertMessage(t, evaluate(exempted), 'protect-guard-labels', 'Namespace team-a', [/set netpol-guard\.io\/exempt=true/, /jane/])
  exempted.userInfo = fixture('002').userInfo
  t.equal(evaluate(exempted), undefined, 'the same by the recorded admin (system:masters)')

  // 003 adds an unrelated label.
  t.equal(evaluate(fixture('003')), undefined, '003 as recorded')
  const dev003 = fixture('003')
  dev003.userInfo = DEVELOPER
  t.equal(evaluate(dev003), undefined, '003 by a normal user')
  const dry = fixture('015')
  dry.userInfo = DEVELOPER
  t.equal(evaluate(dry), undefined, '015 server-side dry-run CREATE')
})

t.test('unrelated labels and unchanged guard labels pass', async (t) => {
  const cases: Array<[string, 'CREATE' | 'UPDATE', Record<string, string>, Record<string, string> | undefined]> = [
    ['CREATE with plain labels', 'CREATE', { env: 'dev' }, undefined],
    ['CREATE with a look-alike prefix', 'CREATE', { 'netpol-guard.io.example/x': 'y', 'guard.netpol-guard.io/x': 'y', 'netpol-guard.com/exempt': 'true' }, undefined],
    ['annotation-like key in another domain', 'CREATE', { 'example.com/netpol-guard.io': 'x' }, undefined],
    ['UPDATE adds env, guard labels unchanged', 'UPDATE', { env: 'dev', 'netpol-guard.io/deny-all': 'injected', 'netpol-guard.io/mode': 'dry-run' }, { 'netpol-guard.io/deny-all': 'injected', 'netpol-guard.io/mode': 'dry-run' }],
    ['UPDATE removes an unrelated label', 'UPDATE', { 'netpol-guard.io/exempt': 'true' }, { env: 'dev', 'netpol-guard.io/exempt': 'true' }],
  ]
  for (const [name, op, labels, oldLabels] of cases)
    t.equal(evaluate(namespaceRequest(op, 'team-a', { ...base, ...labels }, oldLabels && { ...base, ...oldLabels }, as(DEVELOPER))), undefined, name)
})

t.test('exemptions do not apply: the labels are what grants exemption', async (t) => {
  // Removing or setting guard labels is refused in an exempt namespace too, so that an exemption can be
  // neither granted nor altered by a non-privileged user.
  t.ok(evaluate(namespaceRequest('UPDATE', 'team-a', {}, { 'netpol-guard.io/exempt': 'true' }, as(DEVELOPER))), 'removing exempt from an exempt namespace')
  t.ok(evaluate(namespaceRequest('UPDATE', 'legacy', { 'netpol-guard.io/mode': 'dry-run' }, {}, as(DEVELOPER)), config({ exemptNamespaces: ['legacy'] })), 'configured exempt namespace')
  t.ok(evaluate(namespaceRequest('UPDATE', 'kube-system', { 'netpol-guard.io/exempt': 'true' }, {}, as(DEVELOPER))), 'kube-system')
})

t.test('operations, resources and subresources it ignores', async (t) => {
  t.equal(evaluate(namespaceRequest('DELETE', 'team-a', {}, { 'netpol-guard.io/exempt': 'true' }, as(DEVELOPER))), undefined, 'DELETE')
  t.equal(evaluate(namespaceRequest('UPDATE', 'team-a', { 'netpol-guard.io/exempt': 'true' }, {}, { ...as(DEVELOPER), subResource: 'status' })), undefined, 'namespaces/status')
  t.equal(evaluate(namespaceRequest('UPDATE', 'team-a', { 'netpol-guard.io/exempt': 'true' }, {}, { ...as(DEVELOPER), subResource: 'finalize' })), undefined, 'namespaces/finalize')
  const pod = workloadCreate(POD_WORKLOADS[0], 'team-a', 'web')
  pod.object = { ...pod.object, metadata: { name: 'web', namespace: 'team-a', labels: { 'netpol-guard.io/exempt': 'true' } } }
  t.equal(evaluate(pod), undefined, 'guard labels on a Pod are not this rule’s business')
  const connect = admissionRequest({ operation: 'CONNECT', resource: NAMESPACES, name: 'team-a', object: objectOf(NAMESPACES, 'team-a') })
  t.equal(evaluate(connect), undefined, 'CONNECT')
})

t.test('malformed labels read as none', async (t) => {
  const req = namespaceRequest('UPDATE', 'team-a', {}, {}, as(DEVELOPER))
  req.object = { kind: 'Namespace', metadata: { name: 'team-a', labels: 'netpol-guard.io/exempt=true' as unknown as Record<string, string> } }
  t.equal(evaluate(req), undefined)
  const numeric = namespaceRequest('CREATE', 'team-a', {}, undefined, as(DEVELOPER))
  numeric.object = { kind: 'Namespace', metadata: { name: 'team-a', labels: { 'netpol-guard.io/exempt': true as unknown as string } } }
  t.equal(evaluate(numeric), undefined, 'a non-string value is not a label the apiserver would store')
})

t.test('generateName is named when the name is not set yet', async (t) => {
  const req = namespaceRequest('CREATE', 'team-a', { 'netpol-guard.io/exempt': 'true' }, undefined, as(DEVELOPER))
  delete req.name
  req.namespace = ''
  req.object = { ...req.object, metadata: { generateName: 'team-', labels: { 'netpol-guard.io/exempt': 'true' } } }
  assertMessage(t, evaluate(req), 'protect-guard-labels', 'Namespace team-', [/generateName/])
})
