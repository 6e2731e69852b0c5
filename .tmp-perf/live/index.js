// Live mode: wires the watch-based view, verifier, injector, reconciler and leader election together.
import { hostname } from 'node:os';
import { DenyAllWriter } from './deny-all-writer.js';
import { EventRecorder } from './events.js';
import { LiveInjector } from './injector.js';
import { loadKubeConfig, makeClients } from './kube.js';
import { LeaderElector } from './leader.js';
import { LiveView } from './live-view.js';
import { liveMetrics } from './metrics.js';
import { Reconciler } from './reconciler.js';
import { LiveVerifier } from './verifier.js';
export const LEADER_LEASE_NAME = 'netpol-guard-leader';
/** Starts watching the cluster and returns at once; status.ready() turns true once the initial lists are in. */
export async function startLive(opts) {
    const { config, registry } = opts;
    const clock = opts.clock ?? Date.now;
    const identity = opts.identity ?? `${hostname()}_${process.pid}`;
    const log = opts.logger.child({ component: 'live' });
    const clients = makeClients(loadKubeConfig(opts.kubeconfigPath));
    const metrics = liveMetrics(registry);
    metrics.leader.set(0);
    metrics.viewReady.set(0);
    const stopping = new AbortController();
    const live = new LiveView(clients, config, log.child({ part: 'view' }), metrics, opts.tuning, clock);
    const events = new EventRecorder(clients.core, identity, log.child({ part: 'events' }), clock);
    const writer = new DenyAllWriter(clients, config, events, metrics, log.child({ part: 'writer' }), opts.tuning?.injection, { known: (ns) => live.view.namespace(ns) !== undefined, wait: (ns, ms) => live.waitForNamespace(ns, ms) }, stopping.signal);
    const leader = new LeaderElector(clients.coordination, {
        namespace: config.namespace,
        leaseName: LEADER_LEASE_NAME,
        identity,
        clock,
        ...opts.leaderElection,
    }, log.child({ part: 'leader' }));
    const reconciler = new Reconciler(live, writer, leader, config, events, metrics, log.child({ part: 'reconciler' }), opts.tuning);
    leader.onChange((isLeader) => {
        metrics.leader.set(isLeader ? 1 : 0);
        if (isLeader)
            reconciler.reconcileAll();
    });
    const injector = new LiveInjector(live.view, (ns) => reconciler.requestInjection(ns), clock);
    const verifier = new LiveVerifier(clients, config);
    reconciler.start();
    live.start();
    leader.start();
    log.info({ server: clients.kc.getCurrentCluster()?.server, identity, mode: config.mode }, 'live mode started');
    let stopped;
    return {
        view: live.view,
        status: { ready: () => live.ready(), reason: () => live.reason() },
        injector,
        verifier,
        stop: () => (stopped ??= (async () => {
            stopping.abort();
            await reconciler.stop();
            await leader.stop();
            await live.stop();
            await events.flush();
            metrics.leader.set(0);
            metrics.viewReady.set(0);
            log.info('live mode stopped');
        })()),
    };
}
//# sourceMappingURL=index.js.map