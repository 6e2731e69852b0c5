// The live cluster view: two reflectors (Namespaces, NetworkPolicies, cluster-wide) writing into a MemoryView,
// which keeps only what decisions need (namespace labels/terminating, per-namespace policy summaries).
// Ready once both initial lists are in; unready again when either watch has been silent past staleAfterSeconds.
// The lists are chunked and read raw (wire JSON, not client-node's model objects: no Date conversion, no
// `from` → `_from` renaming, a fraction of the CPU and memory); each page is reduced to summaries at once.
import type { KubeConfig } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { GuardConfig } from '../config.js'
import { isRecord, type KubeObject, type Namespace, type NetworkPolicy } from '../k8s/types.js'
import { summarizePolicy, type PolicySummary } from '../policy/coverage.js'
import type { NamespaceInfo } from '../view/cluster-view.js'
import { MemoryView, namespaceInfo } from '../view/memory-view.js'
import type { ViewStatus } from '../view/effects.js'
import type { KubeClients } from './kube.js'
import { apiError, kubeGet, MAX_RESPONSE_CHARS, readText, TimeoutError } from './kube-http.js'
import type { LiveMetrics } from './metrics.js'
import { Reflector, type ListPage, type ListRequest, type WatchEventType } from './reflector.js'

export interface LiveViewTuning {
  watchTimeoutSeconds?: number
  backoffInitialMs?: number
  backoffMaxMs?: number
  /** Per page of a list. */
  listTimeoutMs?: number
  /** Items per list page (default 500; 0: unchunked). */
  listPageSize?: number
}

/**
 * One chunk of a cluster-wide list, read raw: GET path?limit=&continue= (kube-http.ts). The body is decoded chunk
 * by chunk into JS strings: no page-sized native buffer is allocated (large malloc'd buffers are what glibc is
 * slowest to give back, and RSS would keep the high-water mark of the sync), and a page over MAX_RESPONSE_CHARS is
 * not read (ResponseTooLargeError). The page's items are mapped by `map` (dropped when it returns undefined) before
 * the next page is asked for. Errors are ApiException (code = HTTP status, body = the Status text), TimeoutError,
 * ResponseTooLargeError, or the network error.
 */
export async function listChunk<T>(
  kc: KubeConfig,
  path: string,
  req: ListRequest,
  timeoutMs: number,
  map: (o: KubeObject) => T | undefined,
): Promise<ListPage<T>> {
  // One deadline for the whole page: headers and body. Aborting destroys the request wherever it is.
  const deadline = new AbortController()
  const timer = setTimeout(() => deadline.abort(new TimeoutError(timeoutMs)), timeoutMs)
  let text: string
  try {
    const open = await kubeGet(kc, path, { limit: req.limit, continue: req.continue }, { signal: deadline.signal, headersTimeoutMs: timeoutMs })
    if (open.response.statusCode !== 200) throw await apiError(open, `listing ${path}`)
    text = await readText(open, MAX_RESPONSE_CHARS, `a page of ${path}`)
  } catch (e) {
    throw deadline.signal.aborted ? deadline.signal.reason : e
  } finally {
    clearTimeout(timer)
  }
  const body = JSON.parse(text) as { metadata?: { resourceVersion?: unknown; continue?: unknown }; items?: unknown }
  const items: T[] = []
  if (Array.isArray(body.items))
    for (const raw of body.items) {
      if (!isRecord(raw)) continue
      const v = map(raw as KubeObject)
      if (v !== undefined) items.push(v)
    }
  const meta = isRecord(body.metadata) ? body.metadata : {}
  return {
    items,
    resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '',
    ...(typeof meta.continue === 'string' && meta.continue !== '' ? { continue: meta.continue } : {}),
  }
}

interface ListedPolicy {
  namespace: string
  policy: PolicySummary
}

export type ViewEvent =
  | { kind: 'namespace'; type: WatchEventType; name: string }
  | { kind: 'policy'; type: WatchEventType; namespace: string; name: string }
  /** A (re)list replaced a whole resource: anything may have changed. */
  | { kind: 'relist'; resource: 'namespaces' | 'networkpolicies' }

export class LiveView implements ViewStatus {
  readonly view = new MemoryView()
  private readonly namespaces: Reflector<NamespaceInfo>
  private readonly policies: Reflector<ListedPolicy>
  private readonly listeners: ((e: ViewEvent) => void)[] = []
  private readonly nsWaiters = new Map<string, Set<() => void>>()
  private readonly gaugeTimer: NodeJS.Timeout
  private readonly clock: () => number

  constructor(
    clients: KubeClients,
    private readonly config: GuardConfig,
    private readonly log: Logger,
    private readonly metrics: LiveMetrics,
    tuning: LiveViewTuning = {},
    clock: () => number = Date.now,
  ) {
    this.clock = clock
    const listTimeout = tuning.listTimeoutMs ?? 60_000
    // Re-establish idle watches well within the staleness bound, so a quiet but healthy cluster stays ready.
    const watchTimeoutSeconds = tuning.watchTimeoutSeconds ?? Math.max(1, Math.min(300, Math.floor(config.staleAfterSeconds / 3)))
    const common = {
      watch: clients.watch,
      logger: log,
      watchTimeoutSeconds,
      backoffInitialMs: tuning.backoffInitialMs,
      backoffMaxMs: tuning.backoffMaxMs,
      pageSize: tuning.listPageSize,
      clock,
    }
    this.namespaces = new Reflector<NamespaceInfo>({
      ...common,
      resource: 'namespaces',
      watchPath: '/api/v1/namespaces',
      list: (req) => listChunk(clients.kc, '/api/v1/namespaces', req, listTimeout, (o) => namespaceInfo(o as Namespace)),
      replace: (items) => {
        this.view.replaceNamespaces(items)
        for (const n of this.view.namespaceNames()) this.wakeNamespace(n)
        this.emit({ kind: 'relist', resource: 'namespaces' })
      },
      apply: (type, obj) => this.applyNamespace(type, obj as Namespace),
      onRestart: () => metrics.watchRestarts.inc({ resource: 'namespaces' }),
    })
    this.policies = new Reflector<ListedPolicy>({
      ...common,
      resource: 'networkpolicies',
      watchPath: '/apis/networking.k8s.io/v1/networkpolicies',
      list: (req) =>
        listChunk(clients.kc, '/apis/networking.k8s.io/v1/networkpolicies', req, listTimeout, (np) => {
          const ns = np.metadata?.namespace
          return typeof ns === 'string' && ns ? { namespace: ns, policy: summarizePolicy(np as NetworkPolicy) } : undefined
        }),
      replace: (items) => {
        this.view.replacePolicies(items)
        this.emit({ kind: 'relist', resource: 'networkpolicies' })
      },
      apply: (type, obj) => this.applyPolicy(type, obj as NetworkPolicy),
      onRestart: () => metrics.watchRestarts.inc({ resource: 'networkpolicies' }),
    })
    this.gaugeTimer = setInterval(() => this.ready(), 1000)
    this.gaugeTimer.unref()
  }

  start(): void {
    this.namespaces.start()
    this.policies.start()
  }

  async stop(): Promise<void> {
    clearInterval(this.gaugeTimer)
    await Promise.all([this.namespaces.stop(), this.policies.stop()])
    for (const set of this.nsWaiters.values()) for (const w of set) w()
    this.nsWaiters.clear()
  }

  onEvent(cb: (e: ViewEvent) => void): void {
    this.listeners.push(cb)
  }

  synced(): boolean {
    return this.namespaces.hasSynced() && this.policies.hasSynced()
  }

  ready(): boolean {
    const ok = this.synced() && this.staleForMs() <= this.config.staleAfterSeconds * 1000
    this.metrics.viewReady.set(ok ? 1 : 0)
    return ok
  }

  reason(): string {
    if (!this.namespaces.hasSynced()) return 'waiting for the initial list of Namespaces'
    if (!this.policies.hasSynced()) return 'waiting for the initial list of NetworkPolicies'
    const stale = this.staleForMs()
    if (stale > this.config.staleAfterSeconds * 1000)
      return `cluster view is stale: no list or watch activity for ${Math.round(stale / 1000)} s (limit ${this.config.staleAfterSeconds} s)`
    return 'ready'
  }

  /** Resolves when the namespace is in the view, or after timeoutMs (the injector waits on this between 404s). */
  waitForNamespace(name: string, timeoutMs: number): Promise<void> {
    if (this.view.namespace(name)) return Promise.resolve()
    return new Promise((resolve) => {
      let set = this.nsWaiters.get(name)
      if (!set) this.nsWaiters.set(name, (set = new Set()))
      const done = (): void => {
        clearTimeout(t)
        set!.delete(done)
        if (set!.size === 0 && this.nsWaiters.get(name) === set) this.nsWaiters.delete(name)
        resolve()
      }
      const t = setTimeout(done, timeoutMs)
      set.add(done)
    })
  }

  private staleForMs(): number {
    return this.clock() - Math.min(this.namespaces.lastActivityAt(), this.policies.lastActivityAt())
  }

  private wakeNamespace(name: string): void {
    const set = this.nsWaiters.get(name)
    if (set) for (const w of [...set]) w()
  }

  private emit(e: ViewEvent): void {
    for (const cb of this.listeners) {
      try {
        cb(e)
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'view listener failed')
      }
    }
  }

  private applyNamespace(type: WatchEventType, ns: Namespace): void {
    const info = namespaceInfo(ns)
    if (!info) return
    if (type === 'DELETED') this.view.deleteNamespace(info.name)
    else {
      this.view.upsertNamespace(info)
      this.wakeNamespace(info.name)
    }
    this.emit({ kind: 'namespace', type, name: info.name })
  }

  private applyPolicy(type: WatchEventType, np: NetworkPolicy): void {
    const ns = np.metadata?.namespace
    const name = np.metadata?.name
    if (!ns || !name) return
    if (type === 'DELETED') this.view.deletePolicy(ns, name)
    else this.view.upsertPolicy(ns, np)
    this.emit({ kind: 'policy', type, namespace: ns, name })
  }
}
