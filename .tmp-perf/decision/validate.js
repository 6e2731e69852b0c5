import { requestMode } from './mode.js';
import { RULES } from './registry.js';
export function evaluateRules(ctx) {
    const out = [];
    for (const rule of RULES) {
        if (!ctx.config.rules[rule.id])
            continue;
        const f = rule.evaluate(ctx);
        if (f)
            out.push(f);
    }
    return out;
}
export function decideValidation(ctx) {
    const findings = evaluateRules(ctx);
    const mode = requestMode(ctx.request, ctx.view, ctx.config);
    return { mode, findings, allowed: findings.length === 0 || mode === 'dry-run' };
}
//# sourceMappingURL=validate.js.map