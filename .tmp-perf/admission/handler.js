import { decideMutation } from '../decision/mutate.js';
import { decideValidation } from '../decision/validate.js';
import { NamespaceOverlayView } from '../view/overlay-view.js';
import { allowed, denied, patched, reviewResponse, warningLine, withAuditAnnotations, withWarnings, } from './review.js';
export const DRY_RUN_PREFIX = 'netpol-guard dry-run: would deny ';
// Rules whose verdict depends on a namespace's policies, and so on how fresh the view is.
const COVERAGE_RULES = new Set(['require-deny-all', 'protect-deny-all']);
function target(req) {
    return req.namespace ? `${req.namespace}/${req.name ?? ''}` : (req.name ?? '');
}
export class AdmissionHandler {
    deps;
    clock;
    constructor(deps) {
        this.deps = deps;
        this.clock = deps.clock ?? Date.now;
    }
    async validate(review) {
        const started = process.hrtime.bigint();
        const req = review.request;
        const ctx = { request: req, view: this.deps.view, config: this.deps.config, now: this.clock() };
        let decision = decideValidation(ctx);
        let verifyNote;
        if (this.deps.verifier && decision.findings.some((f) => COVERAGE_RULES.has(f.rule))) {
            const verified = await this.verify(ctx, decision);
            decision = verified.decision;
            verifyNote = verified.note;
        }
        let res;
        let outcome;
        const first = decision.findings[0];
        if (!first) {
            res = allowed(req.uid);
            outcome = 'allow';
        }
        else if (decision.mode === 'enforce') {
            res = denied(req.uid, first.message);
            outcome = 'deny';
        }
        else {
            res = withWarnings(allowed(req.uid), decision.findings.map((f) => warningLine(DRY_RUN_PREFIX + f.message)));
            res = withAuditAnnotations(res, {
                'dry-run-would-deny': decision.findings.map((f) => f.rule).join(','),
                'dry-run-message': first.message,
            });
            outcome = 'warn';
        }
        if (verifyNote)
            res = withWarnings(res, [warningLine(verifyNote)]);
        this.record('validate', req, decision.mode, outcome, decision.findings, started);
        return reviewResponse(review.apiVersion, res);
    }
    mutate(review) {
        const started = process.hrtime.bigint();
        const req = review.request;
        const d = decideMutation(req, this.deps.config);
        let res = d.patch ? patched(req.uid, d.patch) : allowed(req.uid);
        if (d.wouldInject)
            res = withAuditAnnotations(res, { 'dry-run-would-inject': `NetworkPolicy ${d.wouldInject}/${this.deps.config.policyName}` });
        // Answer first, then schedule: the injector only records intent and works in the background.
        if (d.inject)
            this.deps.injector?.schedule(d.inject);
        this.record('mutate', req, d.mode, d.patch ? 'patch' : 'allow', [], started, d.outcome);
        return reviewResponse(review.apiVersion, res);
    }
    /** Re-reads the namespace from the API server before denying on coverage (live mode). */
    async verify(ctx, decision) {
        const ns = ctx.request.namespace;
        if (!ns || !this.deps.verifier)
            return { decision };
        const result = await this.deps.verifier.namespacePolicies(ns, this.deps.config.verifyTimeoutMs);
        if (result.ok) {
            const view = new NamespaceOverlayView(ctx.view, ns, result.policies, result.terminating);
            const fresh = decideValidation({ ...ctx, view });
            const overturned = fresh.findings.length < decision.findings.length;
            this.deps.metrics?.verifications.inc({ result: overturned ? 'overturned' : 'confirmed' });
            return { decision: fresh };
        }
        this.deps.metrics?.verifications.inc({ result: 'unreachable' });
        if (this.deps.config.failClosed) {
            const findings = decision.findings.map((f) => COVERAGE_RULES.has(f.rule)
                ? { ...f, message: `${f.message} (netpol-guard could not confirm this with the API server: ${result.reason}; failClosed is on)` }
                : f);
            return { decision: { ...decision, findings } };
        }
        const findings = decision.findings.filter((f) => !COVERAGE_RULES.has(f.rule));
        return {
            decision: { ...decision, findings, allowed: findings.length === 0 || decision.mode === 'dry-run' },
            note: `netpol-guard: allowed without checking deny-all coverage of namespace ${ns}: the API server could not be reached (${result.reason}) and failClosed is off`,
        };
    }
    record(endpoint, req, mode, decision, findings, started, outcome) {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const rule = findings.map((f) => f.rule).join(',') || 'none';
        const m = this.deps.metrics;
        if (m) {
            m.requests.inc({ endpoint, rule, decision, mode });
            m.duration.observe({ endpoint }, seconds);
        }
        const line = {
            uid: req.uid,
            operation: req.operation,
            resource: `${req.resource?.group ? req.resource.group + '/' : ''}${req.resource?.resource ?? ''}${req.subResource ? '/' + req.subResource : ''}`,
            object: target(req),
            user: req.userInfo?.username,
            rule,
            decision,
            mode,
            dryRun: req.dryRun === true,
            ms: Math.round(seconds * 1e6) / 1e3,
            ...(outcome ? { outcome } : {}),
            ...(findings[0] ? { message: findings[0].message } : {}),
        };
        if (decision === 'deny' || decision === 'warn')
            this.deps.logger.warn(line, `admission ${endpoint} ${decision}`);
        else
            this.deps.logger.info(line, `admission ${endpoint} ${decision}`);
    }
}
//# sourceMappingURL=handler.js.map