// The validating decision: every enabled rule applied to the request; the mode decides whether
// findings deny or only warn.
import type { Mode } from '../config.js'
import type { Finding, RuleContext } from '../rules/rule.js'
import { requestMode } from './mode.js'
import { RULES } from './registry.js'

export interface ValidationDecision {
  mode: Mode
  findings: Finding[]
  /** false only in enforce mode with at least one finding. */
  allowed: boolean
}

export function evaluateRules(ctx: RuleContext): Finding[] {
  const out: Finding[] = []
  for (const rule of RULES) {
    if (!ctx.config.rules[rule.id]) continue
    const f = rule.evaluate(ctx)
    if (f) out.push(f)
  }
  return out
}

export function decideValidation(ctx: RuleContext): ValidationDecision {
  const findings = evaluateRules(ctx)
  const mode = requestMode(ctx.request, ctx.view, ctx.config)
  return { mode, findings, allowed: findings.length === 0 || mode === 'dry-run' }
}
