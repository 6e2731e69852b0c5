// `netpol-guard vap`: a ValidatingAdmissionPolicy + binding refusing exactly the configured cluster-wide kinds.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1'
import { DEFAULT_CLUSTER_WIDE_KINDS, type ResourceRef } from '../src/policy/kinds.js'
import { renderVap, VAP_NAME } from '../src/vap.js'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

function parse(text: string): Any[] {
  const docs = parseAllDocuments(text)
  for (const d of docs) if (d.errors.length) throw d.errors[0]
  return docs.map((d) => d.toJS())
}

function covered(policy: Any): string[] {
  const out: string[] = []
  for (const r of policy.spec.matchConstraints.resourceRules) for (const g of r.apiGroups) for (const res of r.resources) out.push(`${g}/${res}`)
  return out.sort()
}
const refs = (kinds: readonly ResourceRef[]) => [...new Set(kinds.map((k) => `${k.group}/${k.resource}`))].sort()

t.test('enforce: covers exactly the default kinds, CREATE/UPDATE, Deny', async (t) => {
  const [policy, binding, ...rest] = parse(renderVap({ kinds: DEFAULT_CLUSTER_WIDE_KINDS, mode: 'enforce' }))
  t.equal(rest.length, 0, 'two documents')
  t.doesNotThrow(() => new ValidatingAdmissionPolicy(policy).validate(), 'policy validates')
  t.doesNotThrow(() => new ValidatingAdmissionPolicyBinding(binding).validate(), 'binding validates')
  t.equal(policy.apiVersion, 'admissionregistration.k8s.io/v1')
  t.same(covered(policy), refs(DEFAULT_CLUSTER_WIDE_KINDS), 'exactly the kinds, nothing more')
  for (const r of policy.spec.matchConstraints.resourceRules) {
    t.same(r.operations, ['CREATE', 'UPDATE'], 'CREATE and UPDATE only: DELETE stays allowed')
    t.notOk(r.apiGroups.includes('*') || r.resources.includes('*'), 'no wildcards')
  }
  t.equal(binding.spec.policyName, policy.metadata.name, 'binding refers to the policy')
  t.equal(policy.metadata.name, VAP_NAME)
  t.same(binding.spec.validationActions, ['Deny'])
  t.notOk(binding.spec.matchResources, 'the binding does not narrow the policy')
  const v = policy.spec.validations[0]
  t.equal(v.expression, "request.operation == 'UPDATE' && has(object.metadata.deletionTimestamp)", 'refused unless an object being deleted loses a finalizer')
  t.match(v.messageExpression, /generateName/, 'names generateName objects')
  t.match(v.message, /^\[no-global-policy\] /, 'message starts with the rule id')
  t.match(v.message, /namespaced NetworkPolicy/, 'and says what to do instead')
  t.notMatch(v.message, /\n/, 'one line')
  t.match(v.messageExpression, /^'\[no-global-policy\] ' \+ request\.kind\.kind/, 'messageExpression names the object')
  t.equal(policy.spec.failurePolicy, 'Fail')
})

t.test('dry-run: Warn and Audit, never Deny', async (t) => {
  const [, binding] = parse(renderVap({ kinds: DEFAULT_CLUSTER_WIDE_KINDS, mode: 'dry-run' }))
  t.same(binding.spec.validationActions, ['Warn', 'Audit'])
})

t.test('a configured list: exactly those kinds', async (t) => {
  const kinds: ResourceRef[] = [
    { group: 'cilium.io', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy' },
    { group: 'example.io', resource: 'globalthings', kind: 'GlobalThing' },
    { group: 'example.io', resource: 'otherthings', kind: 'OtherThing' },
    { group: 'example.io', resource: 'globalthings', kind: 'GlobalThing' },
  ]
  const [policy] = parse(renderVap({ kinds, mode: 'enforce' }))
  t.same(covered(policy), refs(kinds))
  t.equal(policy.spec.matchConstraints.resourceRules.length, 2, 'one rule per group')
})

t.test('no kinds: a clear error', async (t) => {
  t.throws(() => renderVap({ kinds: [], mode: 'enforce' }), /no cluster-wide kinds/)
})

t.test('manifests/components/vap is renderVap of the default kinds (regenerate with netpol-guard vap > ...)', async (t) => {
  const file = readFileSync(join(ROOT, 'manifests', 'components', 'vap', 'vap.yaml'), 'utf8')
  t.equal(file, renderVap({ kinds: DEFAULT_CLUSTER_WIDE_KINDS, mode: 'enforce' }))
})
