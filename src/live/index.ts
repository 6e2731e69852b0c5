// Live mode: wires the watch-based view, verifier, injector, reconciler and leader election together.
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { GuardConfig } from '../config.js'
import type { ClusterView } from '../view/cluster-view.js'
import type { Injector, Verifier, ViewStatus } from '../view/effects.js'
import { DenyAllWriter, type WriterTuning } from './deny-all-writer.js'
import { EventRecorder } from './events.js'
import { LiveInjector } from './injector.js'
import { loadKubeConfig, makeClients } from './kube.js'
import { LeaderElector } from './leader.js'
import { LiveView, type LiveViewTuning } from './live-view.js'
import { liveMetrics } from './metrics.js'
import { Reconciler, type ReconcilerTuning } from './reconciler.js'
import { LiveVerifier } from './verifier.js'

export const LEADER_LEASE_NAME = 'netpol-guard-leader'

export interface LiveGuard {
  view: ClusterView
  status: ViewStatus
  injector: Injector
  verifier: Verifier
  stop(): Promise<void>
}

export interface LeaderElectionTuning {
  leaseDurationSeconds?: number
  renewIntervalMs?: number
  retryIntervalMs?: number
  /** Give the lease up on stop (default true); false simulates a crashed replica in tests. */
  releaseOnStop?: boolean
}

export interface LiveOptions {
  kubeconfigPath?: string
  config: GuardConfig
  logger: Logger
  registry: Registry
  /** Identity in the leader lease: the pod name; default hostname + pid. */
  identity?: string
  clock?: () => number
  leaderElection?: LeaderElectionTuning
  /** Timings, mostly for tests. */
  tuning?: LiveViewTuning & ReconcilerTuning & { injection?: WriterTuning }
}

/** Starts watching the cluster and returns at once; status.ready() turns true once the initial lists are in. */
export async function startLive(opts: LiveOptions): Promise<LiveGuard> {
  const { config, registry } = opts
  const clock = opts.clock ?? Date.now
  const identity = opts.identity ?? `${hostname()}_${process.pid}`
  const log = opts.logger.child({ component: 'live' })
  const clients = makeClients(loadKubeConfig(opts.kubeconfigPath))
  const metrics = liveMetrics(registry)
  metrics.leader.set(0)
  metrics.viewReady.set(0)
  const stopping = new AbortController()

  const live = new LiveView(clients, config, log.child({ part: 'view' }), metrics, opts.tuning, clock)
  const events = new EventRecorder(clients.core, identity, log.child({ part: 'events' }), clock)
  const writer = new DenyAllWriter(clients, config, events, metrics, log.child({ part: 'writer' }), opts.tuning?.injection,
    { known: (ns) => live.view.namespace(ns) !== undefined, wait: (ns, ms) => live.waitForNamespace(ns, ms) }, stopping.signal)
  const leader = new LeaderElector(clients.coordination, {
    namespace: config.namespace,
    leaseName: LEADER_LEASE_NAME,
    identity,
    clock,
    ...opts.leaderElection,
  }, log.child({ part: 'leader' }))
  const reconciler = new Reconciler(live, writer, leader, config, events, metrics, log.child({ part: 'reconciler' }), opts.tuning)
  leader.onChange((isLeader) => {
    metrics.leader.set(isLeader ? 1 : 0)
    if (isLeader) reconciler.reconcileAll()
  })
  const injector = new LiveInjector(live.view, (ns) => reconciler.requestInjection(ns), clock, config.injectionGraceSeconds * 1000)
  const verifier = new LiveVerifier(clients, config)

  reconciler.start()
  live.start()
  leader.start()
  log.info({ server: clients.kc.getCurrentCluster()?.server, identity, mode: config.mode }, 'live mode started')

  let stopped: Promise<void> | undefined
  return {
    view: live.view,
    status: { ready: () => live.ready(), reason: () => live.reason() },
    injector,
    verifier,
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort()
        await reconciler.stop()
        await leader.stop()
        await live.stop()
        await events.flush()
        metrics.leader.set(0)
        metrics.viewReady.set(0)
        log.info('live mode stopped')
      })()),
  }
}
