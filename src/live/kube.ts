// Connection to the API server: KubeConfig loading, the typed clients the guard uses, bounded calls and
// error classification. Objects from the typed clients carry Date objects where the wire has strings;
// plainObject() turns them back so the view code sees what the API server sent.
import { existsSync } from 'node:fs'
import { delimiter } from 'node:path'
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  ApisApi,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node'
import { TimeoutError } from './kube-http.js'
import { KubeWatch, type Watcher } from './kube-watch.js'

export interface KubeClients {
  kc: KubeConfig
  core: CoreV1Api
  networking: NetworkingV1Api
  coordination: CoordinationV1Api
  customObjects: CustomObjectsApi
  apis: ApisApi
  watch: Watcher
}

/** kubeconfigPath if given; else the in-cluster config inside a pod; else the default (KUBECONFIG, ~/.kube/config). */
/** A kubeconfig that cannot be read or used: bad input, reported in one line by the commands. */
export class KubeconfigError extends Error {}

export function loadKubeConfig(kubeconfigPath?: string): KubeConfig {
  try {
    return readKubeConfig(kubeconfigPath)
  } catch (e) {
    throw new KubeconfigError((e as Error).message.split('\n')[0])
  }
}

function readKubeConfig(kubeconfigPath?: string): KubeConfig {
  const kc = new KubeConfig()
  // A KUBECONFIG-style list (a:b) is merged the way kubectl does it.
  if (kubeconfigPath && kubeconfigPath.includes(delimiter) && !existsSync(kubeconfigPath)) {
    const saved = process.env.KUBECONFIG
    process.env.KUBECONFIG = kubeconfigPath
    try {
      kc.loadFromDefault()
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = saved
    }
  } else if (kubeconfigPath) kc.loadFromFile(kubeconfigPath)
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster()
  else kc.loadFromDefault()
  if (!kc.getCurrentCluster()) throw new Error('kubeconfig has no current cluster')
  return kc
}

export function makeClients(kc: KubeConfig): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    networking: kc.makeApiClient(NetworkingV1Api),
    coordination: kc.makeApiClient(CoordinationV1Api),
    customObjects: kc.makeApiClient(CustomObjectsApi),
    apis: kc.makeApiClient(ApisApi),
    watch: new KubeWatch(kc),
  }
}

/** Per-call options that abort the HTTP request after `ms` (client-node's fetch honours the signal). */
export function timeoutOptions(ms: number): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(ms))
      return new Observable(Promise.resolve(ctx))
    },
    post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
  }
  return { middleware: [middleware], middlewareMergeStrategy: 'append' }
}

/** Runs an API call bounded in time: the request is aborted, and the promise rejects with TimeoutError. */
export async function bounded<T>(ms: number, call: (opts: ConfigurationOptions) => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms)
  })
  try {
    return await Promise.race([call(timeoutOptions(ms)), timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** HTTP status of a failed API call (ApiException.code, Watch's statusCode), undefined for network errors. */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const e = err as { code?: unknown; statusCode?: unknown }
  if (typeof e.code === 'number') return e.code
  if (typeof e.statusCode === 'number') return e.statusCode
  return undefined
}

/**
 * The wait a 429 or 503 asked for, in ms (capped at 10 minutes): its Retry-After header (whole seconds), or the
 * Status's details.retryAfterSeconds of a watch ERROR event; undefined without one.
 */
export function retryAfterMs(err: unknown): number | undefined {
  const seconds = (err as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds
  if (typeof seconds === 'number' && Number.isInteger(seconds) && seconds > 0) return Math.min(seconds, 600) * 1000
  const headers = (err as { headers?: unknown } | null)?.headers
  if (typeof headers !== 'object' || headers === null) return undefined
  const value = (headers as Record<string, unknown>)['retry-after']
  if (typeof value !== 'string' || !/^\s*\d+\s*$/.test(value)) return undefined
  return Math.min(Number(value), 600) * 1000
}

/** A one-line description of an API error: the Status message when there is one. */
export function describeError(err: unknown): string {
  if (err instanceof TimeoutError) return err.message
  const code = statusCode(err)
  const body = (err as { body?: unknown } | null)?.body
  let message: string | undefined
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown }
      if (typeof parsed.message === 'string') message = parsed.message
    } catch {
      /* not JSON */
    }
  } else if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
    message = (body as { message: string }).message
  }
  if (!message) {
    const raw = err instanceof Error ? err.message : String(err)
    message = raw.split('\n')[0].slice(0, 200)
  }
  return code ? `HTTP ${code}: ${message}` : message
}

/**
 * Deep copy with Dates as RFC 3339 strings, as on the wire. client-node's models also rename the field `from`
 * (a NetworkPolicy ingress rule's peers) to `_from`: it is renamed back, or every such rule would read as
 * "no peers".
 */
export function plainObject<T>(obj: T): T {
  return JSON.parse(JSON.stringify(obj), (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && '_from' in value) {
      const { _from, ...rest } = value as Record<string, unknown>
      return { from: _from, ...rest }
    }
    return value
  }) as T
}
