// The HTTP layer: a Fastify app with two encapsulated plugins, the admission routes and the
// operational endpoints. Client mistakes end as one-line JSON 4xx answers, never a 5xx.
import Fastify, { errorCodes, type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import type { AdmissionHandler } from '../admission/handler.js'
import { admissionReviewResponseSchema, admissionReviewSchema, encodeReviewResponse, type AdmissionReview, type AdmissionReviewResponse } from '../admission/review.js'
import type { ViewStatus } from '../view/effects.js'
import { parseJsonBody } from './json-body.js'
import type { AdmissionMetrics } from './metrics.js'

/**
 * The apiserver sends an object (etcd holds at most ~1.5 MiB) and, on UPDATE, its oldObject, as JSON
 * that can be larger than the stored protobuf: 2 × 1.5 MiB plus escaping and envelope fits in 6 MiB.
 */
export const DEFAULT_BODY_LIMIT = 6 * 1024 * 1024

export interface ServerOptions {
  handler: AdmissionHandler
  logger: Logger
  metrics: AdmissionMetrics
  status: ViewStatus
  https?: { cert: string; key: string } | null
  bodyLimit?: number
  /** Set on shutdown: /readyz answers 503 from then on. */
  isShuttingDown?: () => boolean
}

export interface ErrorBody {
  statusCode: number
  error: string
}

function clientError(err: FastifyError): { code: number; message: string } {
  const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400
  let message = err.message
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') message = 'Content-Type must be application/json (an AdmissionReview)'
  else if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `request body is larger than the limit`
  else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') message = 'request body is empty; expected an AdmissionReview'
  else if (err.validation) message = `not a valid AdmissionReview: ${err.message}`
  else if (/prototype property/.test(err.message)) message = `body refused: ${err.message} (__proto__/constructor keys are not accepted)`
  else if (err instanceof SyntaxError) message = `body is not valid JSON: ${err.message}`
  return { code, message: message.replace(/\s+/g, ' ') }
}

const admissionRoutes =
  (opts: ServerOptions): FastifyPluginAsync =>
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
    // Other methods on the admission paths: 405, so a misconfigured client learns what to send.
    for (const url of ['/validate', '/mutate']) {
      app.route({
        method: ['GET', 'PUT', 'DELETE', 'PATCH'],
        url,
        handler: async (_req, reply) =>
          reply.code(405).header('allow', 'POST').send({ statusCode: 405, error: `${url} takes POST with an AdmissionReview` } satisfies ErrorBody),
      })
    }
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

export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.https ? { https: { cert: opts.https.cert, key: opts.https.key } } : {}),
    // Fastify's own logger stays off (no child logger per request): the handler logs its decisions,
    // and the error handler below logs with opts.logger.
    logger: false,
    bodyLimit: opts.bodyLimit ?? DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false } },
  }) as unknown as FastifyInstance

  // Only JSON is an AdmissionReview: anything else is a 415, not a schema error.
  app.removeContentTypeParser('text/plain')
  // JSON as Fastify's default parser reads it, one scan of the text cheaper (json-body.ts). Its errors keep their
  // own message (a SyntaxError's position, the forbidden key) for the 400 answer.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    if (body.length === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY(), undefined)
    try {
      done(null, parseJsonBody(body as string))
    } catch (e) {
      done(Object.assign(e as Error, { statusCode: 400 }), undefined)
    }
  })
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.statusCode !== undefined && err.statusCode >= 500 && !err.validation) {
      // A fault of ours: log it with the stack; the apiserver applies the webhook's failurePolicy.
      opts.logger.error({ err, url: req.url }, 'internal error')
      return reply.code(500).send({ statusCode: 500, error: 'internal error' } satisfies ErrorBody)
    }
    if (err.statusCode === undefined && !err.validation && !(err instanceof SyntaxError)) {
      opts.logger.error({ err, url: req.url }, 'internal error')
      return reply.code(500).send({ statusCode: 500, error: 'internal error' } satisfies ErrorBody)
    }
    const { code, message } = clientError(err)
    opts.metrics.badRequests.inc({ code: String(code) })
    opts.logger.info({ statusCode: code, url: req.url, error: message }, 'bad request')
    return reply.code(code).send({ statusCode: code, error: message } satisfies ErrorBody)
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ statusCode: 404, error: `no route ${req.method} ${req.url.split('?')[0]}; admission endpoints are POST /validate and POST /mutate` })
  })

  await app.register(admissionRoutes(opts))
  await app.register(operationalRoutes(opts))
  return app
}
