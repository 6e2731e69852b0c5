// `netpol-guard serve`: wires config, cluster view (state file, live API server or the embedded demo),
// TLS, metrics and the admission handler into the HTTPS server, and shuts down cleanly on SIGTERM.
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { AdmissionHandler } from './admission/handler.js'
import { DEMO_STATE, noArguments, parseCliArgs, readEnv, resolveConfig, StartupError, UsageError, type Io } from './cli.js'
import type { GuardConfig } from './config.js'
import { buildServer, DEFAULT_MAX_CONNECTIONS } from './server/app.js'
import { BatchedLogStream } from './server/log-stream.js'
import { createMetrics, type AdmissionMetrics } from './server/metrics.js'
import { selfSignedServing } from './tls/pki.js'
import type { ClusterView } from './view/cluster-view.js'
import type { Injector, Verifier, ViewStatus } from './view/effects.js'
import { loadStateFile } from './view/state-file.js'
import type { MemoryView } from './view/memory-view.js'

interface ViewSetup {
  source: string
  view: ClusterView
  status: ViewStatus
  injector?: Injector
  verifier?: Verifier
  stop?: () => Promise<void>
}

/** Standalone: the promise to inject is only recorded, so later requests see the namespace as covered. */
export class RecordingInjector implements Injector {
  constructor(
    private readonly view: MemoryView,
    private readonly clock: () => number = Date.now,
    private readonly graceMs = Number.POSITIVE_INFINITY,
  ) {}
  schedule(namespace: string): void {
    this.view.markPending(namespace, this.clock(), this.graceMs)
  }
}

function staticSetup(path: string, source: string, logger: Logger, config: GuardConfig): ViewSetup {
  const loaded = loadStateFile(path)
  logger.info({ file: path, namespaces: loaded.namespaces, networkPolicies: loaded.policies, ignored: loaded.ignored }, 'cluster view loaded from state file')
  return { source, view: loaded.view, status: { ready: () => true }, injector: new RecordingInjector(loaded.view, Date.now, config.injectionGraceSeconds * 1000) }
}

async function liveSetup(kubeconfigPath: string | undefined, config: GuardConfig, logger: Logger, metrics: AdmissionMetrics): Promise<ViewSetup> {
  const { startLive } = await import('./live/index.js')
  const { KubeconfigError } = await import('./live/kube.js')
  let live: Awaited<ReturnType<typeof startLive>>
  try {
    live = await startLive({
      ...(kubeconfigPath ? { kubeconfigPath } : {}),
      // The pod name (downward API) identifies this replica in the leader Lease.
      ...(process.env.POD_NAME ? { identity: process.env.POD_NAME } : {}),
      config,
      logger,
      registry: metrics.registry,
    })
  } catch (e) {
    // A kubeconfig that cannot be read is bad input, said in one line.
    if (e instanceof KubeconfigError) throw new StartupError(`cannot load kubeconfig${kubeconfigPath ? ` ${kubeconfigPath}` : ''}: ${e.message}`)
    throw e
  }
  return { source: 'live', view: live.view, status: live.status, injector: live.injector, verifier: live.verifier, stop: () => live.stop() }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** LOG_LEVEL, checked: pino would throw its own error (with a stack) for a level it does not know. */
function logLevel(value: string | undefined): string {
  if (value === undefined || value === '') return 'info'
  const level = value.toLowerCase()
  if (!LOG_LEVELS.includes(level)) throw new UsageError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, not "${value}"`)
  return level
}

let stdoutDestination: BatchedLogStream | undefined

/**
 * Where the log goes: stdout, one write(2) per turn of the event loop rather than per line (see
 * server/log-stream.ts); flushed after lifecycle lines and when the process exits.
 */
export function logDestination(): BatchedLogStream {
  if (!stdoutDestination) {
    stdoutDestination = new BatchedLogStream(1)
    process.once('exit', () => flushLog())
  }
  return stdoutDestination
}

/** Writes out what the log holds now (lifecycle lines: tests and operators wait for them). */
export function flushLog(): void {
  try {
    stdoutDestination?.flushSync()
  } catch {
    // stdout is gone; nothing to do
  }
}

/** `serve --help`: each flag with its environment variable and default (CONTRACT.md's table). */
const SERVE_USAGE = `usage: netpol-guard serve [flags]

  --host H              NETPOL_GUARD_HOST              listen address (default 0.0.0.0)
  --port P              NETPOL_GUARD_PORT              listen port (default 8443)
  --tls-cert F          NETPOL_GUARD_TLS_CERT          PEM certificate, re-read when it changes on disk
  --tls-key F           NETPOL_GUARD_TLS_KEY           PEM key; without both: a generated self-signed pair
  --mode M              NETPOL_GUARD_MODE              enforce (default) or dry-run
  --state FILE          NETPOL_GUARD_STATE             standalone: the cluster view from this YAML/JSON file
  --kubeconfig FILE     KUBECONFIG                     live: watch the API server (in a pod: the in-cluster config)
  --namespace NAME      NETPOL_GUARD_NAMESPACE         the guard's own namespace (default: the pod's, else netpol-guard)
  --config FILE         NETPOL_GUARD_CONFIG            YAML: rules, kinds, exemptions, policy name, privileged users/groups
  --max-connections N   NETPOL_GUARD_MAX_CONNECTIONS   open connections held at most; more are closed on arrival (default ${DEFAULT_MAX_CONNECTIONS})

  LOG_LEVEL (default info); POD_NAME: this replica's identity in the leader Lease.
  Without --state or --kubeconfig, and outside a cluster: the built-in demo cluster view.
`

export async function serveCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCliArgs(args, {
    host: { type: 'string' },
    port: { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    mode: { type: 'string' },
    state: { type: 'string' },
    kubeconfig: { type: 'string' },
    namespace: { type: 'string' },
    config: { type: 'string' },
    'max-connections': { type: 'string' },
  })
  if (values.help) {
    io.out.write(SERVE_USAGE)
    return 0
  }
  noArguments('serve', positionals)
  const str = (k: string) => values[k] as string | undefined
  const host = str('host') ?? readEnv('HOST') ?? '0.0.0.0'
  // Digits only: Number() would also take "" (0, a random port), "0x50" and "1e3".
  const portText = str('port') ?? readEnv('PORT') ?? '8443'
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN
  if (!(port >= 0 && port <= 65535)) throw new UsageError(`--port must be a port number (0-65535), not "${portText}"`)
  const maxText = str('max-connections') ?? readEnv('MAX_CONNECTIONS') ?? String(DEFAULT_MAX_CONNECTIONS)
  const maxConnections = /^\d{1,15}$/.test(maxText) ? Number(maxText) : NaN
  if (!(maxConnections >= 1)) throw new UsageError(`--max-connections must be a whole number of at least 1, not "${maxText}"`)
  const level = logLevel(process.env.LOG_LEVEL)
  const certFile = str('tls-cert') ?? readEnv('TLS_CERT')
  const keyFile = str('tls-key') ?? readEnv('TLS_KEY')
  if (!!certFile !== !!keyFile) throw new UsageError('--tls-cert and --tls-key go together')
  const config = resolveConfig({ config: str('config'), mode: str('mode'), namespace: str('namespace') })
  const statePath = str('state') ?? readEnv('STATE')
  const kubeconfigPath = str('kubeconfig') ?? process.env.KUBECONFIG
  // No pid/hostname on every line: the pod name and container say it already.
  const logger = pino({ level, base: null }, logDestination())
  const metrics = createMetrics()

  // TLS files are checked before anything starts; a self-signed pair is only made once the view is loaded.
  let tls: { cert: string; key: string } | undefined
  let reloader: { stop(): void } | undefined
  let onCertChange: ((pair: { cert: string; key: string }) => void) | undefined
  if (certFile && keyFile) {
    const { CertificateReloader } = await import('./tls/reloader.js')
    let r: InstanceType<typeof CertificateReloader>
    try {
      r = new CertificateReloader({
        certFile,
        keyFile,
        onChange: (pair) => onCertChange?.(pair),
        onError: (err) => logger.error({ err: err.message }, 'TLS files changed but cannot be used; keeping the current certificate'),
      })
      tls = r.current()
    } catch (e) {
      throw new StartupError((e as Error).message.split('\n')[0]!)
    }
    reloader = r
  }

  let setup: ViewSetup
  if (statePath) setup = staticSetup(statePath, 'state-file', logger, config)
  else if (kubeconfigPath || process.env.KUBERNETES_SERVICE_HOST) setup = await liveSetup(kubeconfigPath, config, logger, metrics)
  else {
    logger.warn({ file: DEMO_STATE }, 'no --state, --kubeconfig or in-cluster config: serving the embedded demo cluster view')
    setup = staticSetup(DEMO_STATE, 'demo', logger, config)
  }

  if (!certFile || !keyFile) {
    const pair = selfSignedServing(['localhost'])
    tls = pair
    const caPath = join(tmpdir(), 'netpol-guard-demo-ca.crt')
    try {
      writeFileSync(caPath, pair.ca)
    } catch {
      // only a convenience for curl
    }
    logger.warn({ caFile: caPath }, 'no --tls-cert/--tls-key: serving a generated self-signed certificate (not for a cluster)')
  }

  const handler = new AdmissionHandler({
    view: setup.view,
    config,
    logger,
    metrics,
    ...(setup.injector ? { injector: setup.injector } : {}),
    ...(setup.verifier ? { verifier: setup.verifier } : {}),
  })
  let shuttingDown = false
  const app = await buildServer({ handler, logger, metrics, status: setup.status, https: tls!, maxConnections, isShuttingDown: () => shuttingDown })
  onCertChange = (pair) => {
    // New connections get the new certificate; connections in flight keep theirs.
    ;(app.server as unknown as { setSecureContext(o: { cert: string; key: string }): void }).setSecureContext(pair)
    logger.info('TLS certificate reloaded')
  }
  ;(reloader as { start?: () => void } | undefined)?.start?.()

  try {
    await app.listen({ host, port })
  } catch (e) {
    reloader?.stop()
    await setup.stop?.()
    const code = (e as NodeJS.ErrnoException).code
    throw new StartupError(`cannot listen on ${host}:${port}: ${code === 'EADDRINUSE' ? 'the address is in use' : (e as Error).message}`)
  }
  const address = app.server.address()
  const boundPort = typeof address === 'object' && address ? address.port : port
  logger.info({ host, port: boundPort, mode: config.mode, view: setup.source, namespace: config.namespace, maxConnections }, 'netpol-guard serving')
  flushLog()

  await new Promise<void>((resolveStop) => {
    const stop = (signal: string) => {
      if (shuttingDown) return
      shuttingDown = true
      logger.info({ signal }, 'shutting down: readiness off, finishing requests in flight')
      reloader?.stop()
      app
        .close()
        .then(() => setup.stop?.())
        .catch((err) => logger.error({ err }, 'error during shutdown'))
        .finally(() => {
          logger.info('stopped')
          flushLog()
          resolveStop()
        })
    }
    process.once('SIGTERM', () => stop('SIGTERM'))
    process.once('SIGINT', () => stop('SIGINT'))
  })
  return 0
}
