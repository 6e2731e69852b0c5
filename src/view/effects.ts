// Side effects the admission handler may ask for. Decisions never perform them; the handler does,
// through these interfaces, so standalone and live modes differ only in what is plugged in here.
import type { PolicySummary } from '../policy/coverage.js'
import type { NamespaceInfo } from './cluster-view.js'

/** Creates the deny-all policy in a namespace that was just admitted (live), or records the promise (standalone). */
export interface Injector {
  /** Called once the /mutate answer for a Namespace CREATE carries the injection label. Must not throw or block. */
  schedule(namespace: string): void
}

export type VerifyResult =
  | {
      ok: true
      policies: PolicySummary[]
      terminating?: boolean
      /** The namespace as just read (labels, creation time), when it exists: a replica whose watch lags
       *  still sees a new namespace's deny-all: injected label, exemption or mode. */
      namespace?: NamespaceInfo
    }
  | { ok: false; reason: string }

/** Reads a namespace's NetworkPolicies straight from the API server (live mode), bounded in time. */
export interface Verifier {
  namespacePolicies(namespace: string, timeoutMs: number): Promise<VerifyResult>
}

/** Readiness of the cluster view, for /readyz. */
export interface ViewStatus {
  ready(): boolean
  /** Why it is not ready, for the /readyz body. */
  reason?(): string
}
