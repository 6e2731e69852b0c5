// The live cluster view: two reflectors (Namespaces, NetworkPolicies, cluster-wide) writing into a MemoryView,
// which keeps only what decisions need (namespace labels/terminating, per-namespace policy summaries).
// Ready once both initial lists are in; unready again when either watch has been silent past staleAfterSeconds.
import type { Logger } from 'pino'
import type { GuardConfig } from '../config.js'
import type { KubeObject, Namespace, NetworkPolicy } from '../k8s/types.js'
import { MemoryView, namespaceInfo } from '../view/memory-view.js'
import type { ViewStatus } from '../view/effects.js'
import { bounded, plainObject, type KubeClients } from './kube.js'
import type { LiveMetrics } from './metrics.js'
import { Reflector, type WatchEventType } from './reflector.js'

export interface LiveViewTuning {
  watchTimeoutSeconds?: number
  backoffInitialMs?: number
  backoffMaxMs?: number
  listTimeoutMs?: number
}

export type ViewEvent =
  | { kind: 'namespace'; type: WatchEventType; name: string }
  | { kind: 'policy'; type: WatchEventType; namespace: string; name: string }
  /** A (re)list replaced a whole resource: anything may have changed. */
  | { kind: 'relist'; resource: 'namespaces' | 'networkpolicies' }

export class LiveView implements ViewStatus {
  readonly view = new MemoryView()
  private readonly namespaces: Reflector
  private readonly policies: Reflector
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
    const common = { watch: clients.watch, logger: log, watchTimeoutSeconds, backoffInitialMs: tuning.backoffInitialMs, backoffMaxMs: tuning.backoffMaxMs, clock }
    this.namespaces = new Reflector({
      ...common,
      resource: 'namespaces',
      watchPath: '/api/v1/namespaces',
      list: async () => {
        const l = await bounded(listTimeout, (o) => clients.core.listNamespace({}, o))
        return { items: plainObject(l.items) as KubeObject[], resourceVersion: l.metadata?.resourceVersion ?? '' }
      },
      replace: (items) => {
        this.view.replaceNamespaces(items as Namespace[])
        for (const n of this.view.namespaceNames()) this.wakeNamespace(n)
        this.emit({ kind: 'relist', resource: 'namespaces' })
      },
      apply: (type, obj) => this.applyNamespace(type, obj as Namespace),
      onRestart: () => metrics.watchRestarts.inc({ resource: 'namespaces' }),
    })
    this.policies = new Reflector({
      ...common,
      resource: 'networkpolicies',
      watchPath: '/apis/networking.k8s.io/v1/networkpolicies',
      list: async () => {
        const l = await bounded(listTimeout, (o) => clients.networking.listNetworkPolicyForAllNamespaces({}, o))
        return { items: plainObject(l.items) as KubeObject[], resourceVersion: l.metadata?.resourceVersion ?? '' }
      },
      replace: (items) => {
        this.view.replacePolicies(
          items.flatMap((np) => (np.metadata?.namespace ? [{ namespace: np.metadata.namespace, policy: np as NetworkPolicy }] : [])),
        )
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
