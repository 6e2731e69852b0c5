// The HTTP layer: a Fastify app with two encapsulated plugins, the admission routes and the
// operational endpoints. Client mistakes end as one-line JSON 4xx answers, never a 5xx.
import Fastify, { errorCodes, type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply, type FastifyRequest } from 'fastify'
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { AdmissionHandler } from '../admission/handler.js'
import { admissionReviewResponseSchema, admissionReviewSchema, encodeReviewResponse, type AdmissionReview, type AdmissionReviewResponse } from '../admission/review.js'
import { oneLine } from '../rules/rule.js'
import type { ViewStatus } from '../view/effects.js'
import { BodyBudget, readBody } from './body-reader.js'
import { parseJsonBody, refusedUnparsed, withoutBom } from './json-body.js'
import { PARSE_CHECK_CHARS, ParseCheck, ParseUnavailableError } from './parse-check.js'
import type { AdmissionMetrics } from './metrics.js'

/**
 * The apiserver sends an object (etcd holds at most ~1.5 MiB) and, on UPDATE, its oldObject, as JSON
 * that can be larger than the stored protobuf: 2 × 1.5 MiB plus escaping and envelope fits in 6 MiB.
 */
export const DEFAULT_BODY_LIMIT = 6 * 1024 * 1024

/**
 * The kube-apiserver waits at most 30 s for a webhook (timeoutSeconds ≤ 30), so a request still arriving after that
 * is answered 408 and its connection closed, rather than held open for as long as the client likes. Node's headers
 * timeout starts with the connection, so the bound also closes one that sends nothing; the same bound applies to the
 * TLS handshake (Node's default is 120 s), so that connections that never speak cannot pile up.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/**
 * Open connections one replica holds at most; more are closed on arrival (counted, logged). An idle TLS connection
 * costs ~37 KiB here, and until the request timeout closes it a peer can open them faster than they go: without a
 * bound, a few thousand exhaust the pod's 384 MiB. The apiserver needs one connection per admission request in
 * flight, far fewer than this.
 */
export const DEFAULT_MAX_CONNECTIONS = 1000

/** While connections are being dropped, one log line per this interval (with the count since the last). */
const DROP_LOG_INTERVAL_MS = 10_000

export interface ServerOptions {
  handler: AdmissionHandler
  logger: Logger
  metrics: AdmissionMetrics
  status: ViewStatus
  https?: { cert: string; key: string } | null
  bodyLimit?: number
  /** Time for a TLS handshake, and for a request to arrive in full, headers and body (default DEFAULT_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number
  /** Open connections held at most (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number
  /** The budget of request bytes held at once while bodies arrive (default: DEFAULT_BODY_BUDGET, see body-reader.ts). */
  bodyBudget?: BodyBudget
  /** Where bodies over PARSE_CHECK_CHARS are parsed first (default: a ParseCheck of its own, closed with the app). */
  parseCheck?: ParseCheck
  /** Set on shutdown: /readyz answers 503 from then on. */
  isShuttingDown?: () => boolean
}

export interface ErrorBody {
  statusCode: number
  error: string
}

function clientError(err: FastifyError, bodyLimit: number): { code: number; message: string } {
  const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400
  let message = err.message
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') message = 'Content-Type must be application/json (an AdmissionReview)'
  else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `request body is larger than the limit of ${bodyLimit} bytes`
  else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') message = 'request body is empty; expected an AdmissionReview'
  else if (err.validation) message = `not a valid AdmissionReview: ${err.message}`
  else if (/prototype property/.test(err.message)) message = `body refused: ${err.message} (__proto__/constructor keys are not accepted)`
  else if (err instanceof SyntaxError) message = `body is not valid JSON: ${err.message}`
  return { code, message: message.replace(/\s+/g, ' ') }
}

type Refuse = (code: number, message: string, url: string | undefined) => ErrorBody

/** The body of a 4xx answer. Every 4xx is logged and counted, whichever layer refuses the request. */
function refuser(opts: ServerOptions): Refuse {
  return (code, message, url) => {
    opts.metrics.badRequests.inc({ code: String(code) })
    opts.logger.info({ statusCode: code, url, error: message }, 'bad request')
    return { statusCode: code, error: message }
  }
}

const admissionRoutes =
  (opts: ServerOptions, refused: Refuse): FastifyPluginAsync =>
  async (app) => {
    const schema = { body: admissionReviewSchema, response: { 200: admissionReviewResponseSchema } }
    // The 200 answer is always an AdmissionReview response: written by its own encoder (review.ts), not a serializer
    // compiled from the schema. Error answers (4xx) keep Fastify's default serializer.
    const serializerCompiler = ({ httpStatus }: { httpStatus?: string }) =>
      httpStatus === '200' ? (data: unknown) => encodeReviewResponse(data as AdmissionReviewResponse) : (data: unknown) => JSON.stringify(data)
    // Not async: the handler answers synchronously unless it must wait for the API server, and Fastify sends a
    // returned value (or awaits a returned promise) either way.
    app.post<{ Body: AdmissionReview }>('/validate', { schema, serializerCompiler }, (req) => opts.handler.validate(req.body))
    app.post<{ Body: AdmissionReview }>('/mutate', { schema, serializerCompiler }, (req) => opts.handler.mutate(req.body))
  }

const operationalRoutes =
  (opts: ServerOptions): FastifyPluginAsync =>
  async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }))
    app.get('/readyz', async (_req, reply) => {
      if (opts.isShuttingDown?.()) return reply.code(503).send({ status: 'not ready', reason: 'shutting down' })
      if (!opts.status.ready()) return reply.code(503).send({ status: 'not ready', reason: opts.status.reason?.() ?? 'cluster view not loaded' })
      return { status: 'ready' }
    })
    app.get('/metrics', async (_req, reply) => {
      reply.header('content-type', opts.metrics.registry.contentType)
      return opts.metrics.registry.metrics()
    })
  }

/** What is not JSON in UTF-8, as the apiserver sends it, is refused (415) rather than decoded into nonsense. */
function unsupportedEncoding(headers: FastifyRequest['headers']): string | undefined {
  const encoding = headers['content-encoding']
  // An empty header (some clients send one) means no coding, as identity does.
  const coding = encoding?.trim().toLowerCase()
  if (coding !== undefined && coding !== '' && coding !== 'identity') {
    return `Content-Encoding ${encoding} is not supported: send the AdmissionReview uncompressed`
  }
  // Parameters come after a ';': the apiserver's plain "application/json" is passed without the regex.
  const type = headers['content-type']
  if (type === undefined || type.indexOf(';') === -1) return undefined
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(type)?.[1]
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) return `charset ${charset} is not supported: send the AdmissionReview as UTF-8 JSON`
  return undefined
}

/**
 * The methods each path takes, collected from the routes as they are registered, so that a 405 and its Allow
 * header always name what the router really serves (HEAD included where Fastify answers it for a GET route).
 * The catch-all route is not a path of its own.
 */
function routedMethods(app: FastifyInstance): (path: string) => { allow: string; takes: string } | undefined {
  const paths = new Map<string, { methods: string[]; reviewBody: boolean }>()
  app.addHook('onRoute', (route) => {
    if (route.url === '*') return
    const p = paths.get(route.url) ?? { methods: [], reviewBody: false }
    paths.set(route.url, p)
    for (const m of ([] as string[]).concat(route.method)) if (!p.methods.includes(m)) p.methods.push(m)
    // The routes with a body schema are the admission endpoints: their body is an AdmissionReview.
    p.reviewBody ||= route.schema?.body !== undefined
  })
  return (path) => {
    const p = paths.get(path)
    if (!p) return undefined
    const takes = p.methods.filter((m) => m !== 'HEAD').join(' or ') + (p.reviewBody ? ' with an AdmissionReview' : '')
    return { allow: p.methods.join(', '), takes }
  }
}

/** Node closes a connection over the limit as it arrives (before TLS) and says so with a 'drop' event. */
function limitConnections(app: FastifyInstance, opts: ServerOptions): void {
  const max = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS
  app.server.maxConnections = max
  let lastLogAt = -Infinity
  let unlogged = 0
  app.server.on('drop', () => {
    opts.metrics.connectionsDropped.inc()
    unlogged++
    const now = performance.now()
    if (now - lastLogAt < DROP_LOG_INTERVAL_MS) return
    opts.logger.warn({ maxConnections: max, dropped: unlogged }, 'connection limit reached: new connections are closed on arrival')
    lastLogAt = now
    unlogged = 0
  })
}

/**
 * Two requests Node answers by itself unless the server listens for them, with an empty 417 (an Expect other than
 * 100-continue) or by closing the connection (CONNECT): they get the same one-line JSON refusal as the rest.
 */
function refuseExpectAndConnect(app: FastifyInstance, refused: Refuse): void {
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const body = JSON.stringify(refused(417, `Expect: ${oneLine(req.headers.expect ?? '').slice(0, 100)} is not supported (only 100-continue)`, req.url))
    res.writeHead(417, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' })
    res.end(body)
  })
  app.server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const body = JSON.stringify(refused(405, 'CONNECT is not supported: admission endpoints are POST /validate and POST /mutate', req.url))
    // Node no longer times out a socket it has handed over for CONNECT, and end() alone would leave it half-open
    // until the peer closes its side (never, for a hostile one), holding a connection slot: destroy it once written.
    socket.end(`HTTP/1.1 405 ${STATUS_CODES[405]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nAllow: GET, HEAD, POST\r\nConnection: close\r\n\r\n${body}`, () => socket.destroy())
  })
}

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT
  const requestTimeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const refused = refuser(opts)
  // Node enforces its request timeout only with a headers timeout no longer than it, set when the server is created,
  // and checks both on an interval (30 s by default): often enough here for the bound to hold.
  const timeouts = { headersTimeout: requestTimeout, requestTimeout, connectionsCheckingInterval: Math.min(5000, requestTimeout) }
  const app = Fastify({
    ...(opts.https ? { https: { cert: opts.https.cert, key: opts.https.key, handshakeTimeout: requestTimeout, ...timeouts } } : { http: timeouts }),
    // Fastify's own logger stays off (no child logger per request): the handler logs its decisions,
    // and the error handler below logs with opts.logger.
    logger: false,
    bodyLimit,
    requestTimeout,
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
    // A URL the router cannot decode (`/%zz`): the same one-line JSON 400 as every other refusal.
    frameworkErrors: (err, req, reply) => void (reply as FastifyReply).code(400).send(refused(400, `not a valid URL: ${err.message}`, req.url)),
    // Requests that are not HTTP, or do not arrive in time: Node hands the socket over before there is a request.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
        // Counted and logged as the 408 it is; no answer, since the peer does not speak TLS yet.
        refused(408, `the TLS handshake did not complete within ${requestTimeout / 1000} s`, undefined)
        socket.destroy()
        return
      }
      const [code, message] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, `the request did not arrive in full within ${requestTimeout / 1000} s`]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? [431, 'request headers are too large']
            : [400, `not a valid HTTP request (${err.code ?? err.message})`]
      const body = JSON.stringify(refused(code, message, undefined))
      if (socket.writable) {
        socket.write(`HTTP/1.1 ${code} ${STATUS_CODES[code]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
      }
      socket.destroy()
    },
  }) as unknown as FastifyInstance

  limitConnections(app, opts)
  refuseExpectAndConnect(app, refused)

  // Only JSON is an AdmissionReview: anything else is a 415, not a schema error.
  app.removeContentTypeParser('text/plain')
  // JSON as Fastify's default parser reads it, one scan of the text cheaper (json-body.ts). Its errors keep their
  // own message (a SyntaxError's position, the forbidden key) for the 400 answer.
  app.removeContentTypeParser('application/json')
  // The body is read by body-reader.ts (Fastify's limits, and a budget for large bodies over all requests) rather
  // than by Fastify's parseAs reader, and refused before it is read when its encoding is not one we take.
  const bodyBudget = opts.bodyBudget ?? new BodyBudget()
  const parseCheck = opts.parseCheck ?? new ParseCheck()
  if (!opts.parseCheck) app.addHook('onClose', () => parseCheck.close())
  const parsed = (body: string, done: (err: Error | null, review?: unknown) => void): void => {
    let review: unknown
    try {
      review = parseJsonBody(body)
    } catch (e) {
      return done(Object.assign(e as Error, { statusCode: 400 }), undefined)
    }
    // Outside the try: what done() runs next (validation, the handler) must not be taken for a parse error.
    done(null, review)
  }
  app.addContentTypeParser('application/json', (req, payload, done) => {
    const unsupported = unsupportedEncoding(req.headers)
    if (unsupported !== undefined) return done(Object.assign(new Error(unsupported), { statusCode: 415 }), undefined)
    readBody(payload, Number(req.headers['content-length']), bodyLimit, bodyBudget, (err, body) => {
      if (err) return done(err, undefined)
      if (body!.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined)
      const refusal = refusedUnparsed(body!)
      if (refusal !== undefined) return done(Object.assign(new Error(refusal), { statusCode: 413 }), undefined)
      if (body!.length <= PARSE_CHECK_CHARS) return parsed(body!, done)
      // A large body is parsed in a child process first (parse-check.ts), and stays on the budget until it is
      // parsed here: bodies waiting for the child are memory too.
      const size = Buffer.byteLength(body!)
      bodyBudget.take(size)
      const socket = req.raw.socket
      parseCheck.check(
        withoutBom(body!),
        (err) => {
          if (err) {
            bodyBudget.give(size)
            return done(err instanceof SyntaxError ? Object.assign(err, { statusCode: 400 }) : err, undefined)
          }
          parsed(body!, (e, review) => {
            bodyBudget.give(size)
            done(e, review)
          })
        },
        () => !socket || socket.destroyed,
      )
    })
  })
  app.setErrorHandler((err: FastifyError, req, reply) => {
    // The socket, not the request stream: a request whose body has been read in full is destroyed (autoDestroy) by
    // the time an answer that waited for the parse check's child comes.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || !req.raw.socket || req.raw.socket.destroyed) {
      // The client is gone mid-request: it hung up, or the connection was closed on it (a malformed or late request,
      // answered and counted by clientErrorHandler). There is no one to answer, and nothing more to count.
      opts.logger.debug({ url: req.url, error: err.message }, 'request aborted')
      return reply.code(400).send({ statusCode: 400, error: 'request aborted' } satisfies ErrorBody)
    }
    if (err instanceof ParseUnavailableError) {
      // Not the client's mistake, nor a fault in the request path: the server is closing, or cannot run the child.
      opts.logger.warn({ url: req.url, error: err.message }, 'large body not parsed')
      return reply.code(503).header('retry-after', '1').send({ statusCode: 503, error: `${err.message}; retry shortly` } satisfies ErrorBody)
    }
    if (err.statusCode !== undefined && err.statusCode >= 500 && !err.validation) {
      // A fault of ours: log it with the stack; the apiserver applies the webhook's failurePolicy.
      opts.logger.error({ err, url: req.url }, 'internal error')
      return reply.code(500).send({ statusCode: 500, error: 'internal error' } satisfies ErrorBody)
    }
    if (err.statusCode === undefined && !err.validation && !(err instanceof SyntaxError)) {
      opts.logger.error({ err, url: req.url }, 'internal error')
      return reply.code(500).send({ statusCode: 500, error: 'internal error' } satisfies ErrorBody)
    }
    const { code, message } = clientError(err, bodyLimit)
    // Over the budget, or too many large bodies waiting for the parse check: the same answer.
    if (code === 429) reply.header('retry-after', '1')
    return reply.code(code).send(refused(code, message, req.url))
  })
  // What no route takes (a wrong method on a known path: 405; an unknown path: 404) is answered in onRequest, before
  // a body is read, rather than with a complaint about a body sent to the wrong place. The catch-all route matches
  // only where no other route does; methods Fastify does not route (PROPFIND, ...) reach the not-found handler.
  const methodsOf = routedMethods(app)
  const unrouted = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0]!
    const methods = methodsOf(path)
    if (methods) return reply.code(405).header('allow', methods.allow).send(refused(405, `${path} takes ${methods.takes}, not ${req.method}`, req.url))
    return reply.code(404).send(refused(404, `no route ${req.method} ${path}; admission endpoints are POST /validate and POST /mutate`, req.url))
  }
  app.all('*', { onRequest: unrouted }, unrouted)
  app.setNotFoundHandler(unrouted)

  await app.register(admissionRoutes(opts, refused))
  await app.register(operationalRoutes(opts))
  return app
}
