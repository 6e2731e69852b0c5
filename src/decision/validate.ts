// The validating decision: every enabled rule applied to the request; the mode decides whether
// findings deny or only warn.
import type { GuardConfig, Mode } from '../config.js'
import type { Finding, Rule, RuleContext } from '../rules/rule.js'
import { requestMode } from './mode.js'
import { RULES } from './registry.js'

export interface ValidationDecision {
  mode: Mode
  findings: Finding[]
  /** false only in enforce mode with at least one finding. */
  allowed: boolean
}

// The rules a config enables, worked out once per config object (configs are not changed after loading).
const enabledByConfig = new WeakMap<GuardConfig, readonly Rule[]>()

function enabledRules(config: GuardConfig): readonly Rule[] {
  let rules = enabledByConfig.get(config)
  if (!rules) enabledByConfig.set(config, (rules = RULES.filter((r) => config.rules[r.id])))
  return rules
}

export function evaluateRules(ctx: RuleContext): Finding[] {
  const out: Finding[] = []
  const rules = enabledRules(ctx.config)
  for (let i = 0; i < rules.length; i++) {
    const f = rules[i]!.evaluate(ctx)
    if (f) out.push(f)
  }
  return out
}

export function decideValidation(ctx: RuleContext): ValidationDecision {
  const findings = evaluateRules(ctx)
  const mode = requestMode(ctx.request, ctx.view, ctx.config)
  return { mode, findings, allowed: findings.length === 0 || mode === 'dry-run' }
}
