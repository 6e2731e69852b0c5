// planNamespace: what the reconciler does about one namespace, a pure function of its facts and the config.
import t from 'tap'
import { planNamespace } from '../src/live/plan.js'
import { summarizePolicy } from '../src/policy/coverage.js'
import type { NamespaceInfo } from '../src/view/cluster-view.js'
import { config, denyAll, denyIngress, networkPolicy } from './helpers/requests.js'

const ns = (name: string, labels: Record<string, string> = {}, terminating = false): NamespaceInfo => ({ name, labels, terminating })

t.test('an uncovered namespace is injected in enforce, reported in dry-run', async (t) => {
  t.match(planNamespace(ns('a'), [], config()), { action: 'inject', coverage: { ingress: false, egress: false } })
  t.match(planNamespace(ns('a'), [summarizePolicy(denyIngress('a'))], config()), { action: 'inject', coverage: { ingress: true, egress: false } })
  t.match(planNamespace(ns('a'), [], config({ mode: 'dry-run' })), { action: 'report', why: 'dry-run' })
  t.match(planNamespace(ns('a', { 'netpol-guard.io/mode': 'dry-run' }), [], config()), { action: 'report', why: 'dry-run' })
})

t.test("the namespace's mode label wins either way, as in admission", async (t) => {
  // Labelled enforce under a global dry-run: admission refuses its workloads, so it must get its deny-all.
  t.match(planNamespace(ns('early', { 'netpol-guard.io/mode': 'enforce' }), [], config({ mode: 'dry-run' })), { action: 'inject' })
  // Any other value is no label: the global mode applies.
  t.match(planNamespace(ns('odd', { 'netpol-guard.io/mode': 'Enforce' }), [], config({ mode: 'dry-run' })), { action: 'report', why: 'dry-run' })
})

t.test('nothing to do: unknown, exempt, terminating, covered', async (t) => {
  t.same(planNamespace(undefined, [], config()), { action: 'none', why: 'unknown' })
  t.same(planNamespace(ns('kube-system'), [], config()), { action: 'none', why: 'exempt' })
  t.same(planNamespace(ns('x', { 'netpol-guard.io/exempt': 'true' }), [], config()), { action: 'none', why: 'exempt' })
  t.same(planNamespace(ns('x', {}, true), [], config()), { action: 'none', why: 'terminating' })
  t.same(planNamespace(ns('x'), [summarizePolicy(denyAll('x', 'lockdown'))], config()), { action: 'none', why: 'covered' })
})

t.test('a policy that is not a deny-all holds the name: reported, never overwritten', async (t) => {
  const foreign = networkPolicy('x', 'deny-all', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'] })
  t.match(planNamespace(ns('x'), [summarizePolicy(foreign)], config()), { action: 'report', why: 'name-conflict' })
})
