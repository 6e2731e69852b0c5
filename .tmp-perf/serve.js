// `netpol-guard serve`: wires config, cluster view (state file, live API server or the embedded demo),
// TLS, metrics and the admission handler into the HTTPS server, and shuts down cleanly on SIGTERM.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AdmissionHandler } from './admission/handler.js';
import { DEMO_STATE, parseCliArgs, readEnv, resolveConfig, UsageError } from './cli.js';
import { buildServer } from './server/app.js';
import { createMetrics } from './server/metrics.js';
import { selfSignedServing } from './tls/pki.js';
import { loadStateFile } from './view/state-file.js';
/** Standalone: the promise to inject is only recorded, so later requests see the namespace as covered. */
export class RecordingInjector {
    view;
    clock;
    constructor(view, clock = Date.now) {
        this.view = view;
        this.clock = clock;
    }
    schedule(namespace) {
        this.view.markPending(namespace, this.clock());
    }
}
function staticSetup(path, source, logger) {
    const loaded = loadStateFile(path);
    logger.info({ file: path, namespaces: loaded.namespaces, networkPolicies: loaded.policies, ignored: loaded.ignored }, 'cluster view loaded from state file');
    return { source, view: loaded.view, status: { ready: () => true }, injector: new RecordingInjector(loaded.view) };
}
async function liveSetup(kubeconfigPath, config, logger, metrics) {
    const { startLive } = await import('./live/index.js');
    const live = await startLive({ ...(kubeconfigPath ? { kubeconfigPath } : {}), config, logger, registry: metrics.registry });
    return { source: 'live', view: live.view, status: live.status, injector: live.injector, verifier: live.verifier, stop: () => live.stop() };
}
export async function serveCommand(args, io) {
    const { values } = parseCliArgs(args, {
        host: { type: 'string' },
        port: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        mode: { type: 'string' },
        state: { type: 'string' },
        kubeconfig: { type: 'string' },
        namespace: { type: 'string' },
        config: { type: 'string' },
    });
    if (values.help) {
        io.out.write('usage: netpol-guard serve [flags]; see netpol-guard --help\n');
        return 0;
    }
    const str = (k) => values[k];
    const host = str('host') ?? readEnv('HOST') ?? '0.0.0.0';
    const portText = str('port') ?? readEnv('PORT') ?? '8443';
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port must be a port number, not "${portText}"`);
    const certFile = str('tls-cert') ?? readEnv('TLS_CERT');
    const keyFile = str('tls-key') ?? readEnv('TLS_KEY');
    if (!!certFile !== !!keyFile)
        throw new UsageError('--tls-cert and --tls-key go together');
    const config = resolveConfig({ config: str('config'), mode: str('mode'), namespace: str('namespace') });
    const statePath = str('state') ?? readEnv('STATE');
    const kubeconfigPath = str('kubeconfig') ?? process.env.KUBECONFIG;
    const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { app: 'netpol-guard' } });
    const metrics = createMetrics();
    let setup;
    if (statePath)
        setup = staticSetup(statePath, 'state-file', logger);
    else if (kubeconfigPath || process.env.KUBERNETES_SERVICE_HOST)
        setup = await liveSetup(kubeconfigPath, config, logger, metrics);
    else {
        logger.warn({ file: DEMO_STATE }, 'no --state, --kubeconfig or in-cluster config: serving the embedded demo cluster view');
        setup = staticSetup(DEMO_STATE, 'demo', logger);
    }
    let tls;
    let reloader;
    let onCertChange;
    if (certFile && keyFile) {
        const { CertificateReloader } = await import('./tls/reloader.js');
        const r = new CertificateReloader({
            certFile,
            keyFile,
            onChange: (pair) => onCertChange?.(pair),
            onError: (err) => logger.error({ err: err.message }, 'TLS files changed but cannot be used; keeping the current certificate'),
        });
        tls = r.current();
        reloader = r;
    }
    else {
        const pair = selfSignedServing(['localhost']);
        tls = pair;
        const caPath = join(tmpdir(), 'netpol-guard-demo-ca.crt');
        try {
            writeFileSync(caPath, pair.ca);
        }
        catch {
            // only a convenience for curl
        }
        logger.warn({ caFile: caPath }, 'no --tls-cert/--tls-key: serving a generated self-signed certificate (not for a cluster)');
    }
    const handler = new AdmissionHandler({
        view: setup.view,
        config,
        logger,
        metrics,
        ...(setup.injector ? { injector: setup.injector } : {}),
        ...(setup.verifier ? { verifier: setup.verifier } : {}),
    });
    let shuttingDown = false;
    const app = await buildServer({ handler, logger, metrics, status: setup.status, https: tls, isShuttingDown: () => shuttingDown });
    onCertChange = (pair) => {
        // New connections get the new certificate; connections in flight keep theirs.
        ;
        app.server.setSecureContext(pair);
        logger.info('TLS certificate reloaded');
    };
    reloader?.start?.();
    await app.listen({ host, port });
    const address = app.server.address();
    const boundPort = typeof address === 'object' && address ? address.port : port;
    logger.info({ host, port: boundPort, mode: config.mode, view: setup.source, namespace: config.namespace }, 'netpol-guard serving');
    await new Promise((resolveStop) => {
        const stop = (signal) => {
            if (shuttingDown)
                return;
            shuttingDown = true;
            logger.info({ signal }, 'shutting down: readiness off, finishing requests in flight');
            reloader?.stop();
            app
                .close()
                .then(() => setup.stop?.())
                .catch((err) => logger.error({ err }, 'error during shutdown'))
                .finally(() => {
                logger.info('stopped');
                resolveStop();
            });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
    });
    return 0;
}
//# sourceMappingURL=serve.js.map