// Verify-before-deny: read a namespace's NetworkPolicies (and whether it is terminating) straight from the
// API server, bounded in time, so a policy created a moment ago and not yet seen by the watch is not missed.
import type { GuardConfig } from '../config.js'
import type { Namespace, NetworkPolicy } from '../k8s/types.js'
import { summarizePolicy } from '../policy/coverage.js'
import type { Verifier, VerifyResult } from '../view/effects.js'
import { namespaceInfo } from '../view/memory-view.js'
import { bounded, describeError, plainObject, statusCode, type KubeClients } from './kube.js'

export class LiveVerifier implements Verifier {
  constructor(
    private readonly clients: Pick<KubeClients, 'core' | 'networking'>,
    private readonly config: GuardConfig,
  ) {}

  async namespacePolicies(namespace: string, timeoutMs: number): Promise<VerifyResult> {
    const ms = Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : this.config.verifyTimeoutMs
    try {
      const [list, ns] = await bounded(ms, (o) =>
        Promise.all([
          this.clients.networking.listNamespacedNetworkPolicy({ namespace }, o),
          // A missing namespace is an answer (not terminating), not a failure.
          this.clients.core.readNamespace({ name: namespace }, o).catch((e: unknown) => {
            if (statusCode(e) === 404) return undefined
            throw e
          }),
        ]),
      )
      const policies = (plainObject(list.items) as NetworkPolicy[]).map(summarizePolicy)
      const info = ns ? namespaceInfo(plainObject(ns) as Namespace) : undefined
      return { ok: true, policies, terminating: info?.terminating ?? false, ...(info ? { namespace: info } : {}) }
    } catch (e) {
      return { ok: false, reason: `could not read the NetworkPolicies of namespace ${namespace} from the API server (${describeError(e)})` }
    }
  }
}
