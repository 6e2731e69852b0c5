// Raw GETs to the API server for the two streams the live view reads, a chunked list and a watch, over
// node:http(s) with the kubeconfig's credentials, TLS settings and proxy (client-node's own agent and headers).
// Both read wire JSON as text, and both bound what they hold: a list page or a watch event larger than the bound
// ends the request with ResponseTooLargeError instead of growing until the process dies (a string past V8's
// maximum length throws where nothing can catch it; long before that, the pod is out of memory).
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { ApiException, HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node'

/**
 * The most characters of one list page, or one watch event, read. A page of 500 NetworkPolicies is ~0.6 MB, and
 * one object at most ~1.5 MiB (etcd's limit); parsing 16 MiB of JSON takes ~50–100 MB of heap, within the 192 MiB
 * the Deployment gives. A page over it is asked for again in smaller pages (reflector.ts).
 */
export const MAX_RESPONSE_CHARS = 16 * 1024 * 1024

/** No answer in time (a list page, a watch's headers, any call bounded by kube.ts's bounded()). */
export class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer from the API server within ${ms} ms`)
  }
}

/** A list page or watch event over the bound: the request was cut off. */
export class ResponseTooLargeError extends Error {
  constructor(what: string, limit: number) {
    super(`${what} is larger than ${limit} characters; not read`)
  }
}

/** An open GET: its response (headers in), and a way to end it early. */
export interface OpenRequest {
  response: IncomingMessage
  abort(): void
}

/** How long kubeGet waits for the response headers unless told otherwise: the API server sends them at once. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000

/**
 * GET path?query from the kubeconfig's current cluster. Resolves once the response headers are in, whatever the
 * status; rejects on a network error, when `signal` aborts first, or when no headers came within
 * `headersTimeoutMs` (TimeoutError). In each case the request is destroyed: nothing is left open. `query` values that
 * are undefined are left out.
 */
export async function kubeGet(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | boolean | undefined>,
  opts: { signal?: AbortSignal; headersTimeoutMs?: number } = {},
): Promise<OpenRequest> {
  const server = kc.getCurrentCluster()?.server
  if (!server) throw new Error('kubeconfig has no current cluster')
  const ctx = new RequestContext(server.replace(/\/+$/, '') + path, HttpMethod.GET)
  for (const [k, v] of Object.entries(query)) if (v !== undefined) ctx.setQueryParam(k, String(v))
  ctx.setHeaderParam('Accept', 'application/json')
  await kc.applySecurityAuthentication(ctx)
  const url = new URL(ctx.getUrl())
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest
  return new Promise((resolve, reject) => {
    let response: IncomingMessage | undefined
    const req: ClientRequest = send(url, { method: 'GET', headers: ctx.getHeaders(), agent: ctx.getAgent(), ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      clearTimeout(timer)
      response = res
      resolve({ response: res, abort: () => req.destroy() })
    })
    const headersTimeoutMs = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS
    const timer = setTimeout(() => req.destroy(new TimeoutError(headersTimeoutMs)), headersTimeoutMs)
    // For the request's whole life: a socket error while the body is read (a reset, keepalive's ETIMEDOUT) is
    // emitted on the request, and an 'error' without a listener would end the process. The body's reader hears
    // of it through the response.
    req.on('error', (e) => {
      clearTimeout(timer)
      if (response) response.destroy(e)
      else reject(e)
    })
    req.end()
  })
}

/**
 * The response's body as text, at most `maxChars` characters (ResponseTooLargeError past them: the request is
 * destroyed). Rejects if the connection drops before the end.
 */
export function readText(open: OpenRequest, maxChars: number, what: string): Promise<string> {
  const res = open.response
  res.setEncoding('utf8')
  return new Promise((resolve, reject) => {
    const parts: string[] = []
    let length = 0
    res.on('data', (s: string) => {
      length += s.length
      if (length > maxChars) {
        open.abort()
        reject(new ResponseTooLargeError(what, maxChars))
        return
      }
      parts.push(s)
    })
    res.on('end', () => resolve(parts.join('')))
    res.on('error', reject)
    // A body cut off without an error event (the socket closed before the end).
    res.on('close', () => {
      if (!res.complete) reject(new Error(`connection closed while reading ${what}`))
    })
  })
}

/** A non-200 answer as client-node's calls report it: ApiException with the status and the body (a Status). */
export async function apiError(open: OpenRequest, what: string): Promise<ApiException<string>> {
  const code = open.response.statusCode ?? 0
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(open.response.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
  // A Status is small; what is past 64 KiB is not needed to say what went wrong.
  const body = await readText(open, 64 * 1024, `the answer to ${what}`).catch(() => '')
  return new ApiException<string>(code, `HTTP ${code} ${what}`, body, headers)
}
