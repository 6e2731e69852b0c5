import { noGlobalPolicy } from '../rules/no-global-policy.js';
import { requireDenyAll } from '../rules/require-deny-all.js';
import { protectDenyAll } from '../rules/protect-deny-all.js';
import { noAllowAll } from '../rules/no-allow-all.js';
import { protectGuardLabels } from '../rules/protect-guard-labels.js';
export const RULES = [noGlobalPolicy, requireDenyAll, protectDenyAll, noAllowAll, protectGuardLabels];
//# sourceMappingURL=registry.js.map