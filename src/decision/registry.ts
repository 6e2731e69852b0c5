// The five rules, in the order their findings are reported.
import type { Rule } from '../rules/rule.js'
import { noGlobalPolicy } from '../rules/no-global-policy.js'
import { requireDenyAll } from '../rules/require-deny-all.js'
import { protectDenyAll } from '../rules/protect-deny-all.js'
import { noAllowAll } from '../rules/no-allow-all.js'
import { protectGuardLabels } from '../rules/protect-guard-labels.js'

export const RULES: readonly Rule[] = [noGlobalPolicy, requireDenyAll, protectDenyAll, noAllowAll, protectGuardLabels]
