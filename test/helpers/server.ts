// Builds the admission server the way `serve --state` does, for tests (fastify.inject or real HTTPS).
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { Writable } from 'node:stream'
import { AdmissionHandler } from '../../src/admission/handler.js'
import { defaultConfig, type GuardConfig } from '../../src/config.js'
import { buildServer } from '../../src/server/app.js'
import type { BodyBudget } from '../../src/server/body-reader.js'
import type { ParseCheck } from '../../src/server/parse-check.js'
import { createMetrics } from '../../src/server/metrics.js'
import { RecordingInjector } from '../../src/serve.js'
import type { MemoryView } from '../../src/view/memory-view.js'
import { loadStateFile } from '../../src/view/state-file.js'
import type { Verifier } from '../../src/view/effects.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
// The recorded apiserver requests live in ../shared beside the clone (as CI lays it out); NETPOL_GUARD_FIXTURES overrides.
export const FIXTURES = process.env.NETPOL_GUARD_FIXTURES ?? join(ROOT, '..', 'shared', 'fixtures', 'apiserver-v1.32')
export const DEMO_STATE = join(ROOT, 'examples', 'demo-state.yaml')

export function fixture(name: string): any {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))
}

export function haveFixtures(): boolean {
  return existsSync(FIXTURES)
}

export function fixtureNames(): string[] {
  return readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort()
}

export function example(name: string): any {
  return JSON.parse(readFileSync(join(ROOT, 'examples', 'reviews', name), 'utf8'))
}

/** A pino logger whose lines are kept in memory for assertions. */
export function memoryLogger(level = 'info') {
  const lines: any[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l))
      cb()
    },
  })
  return { logger: pino({ level }, stream), lines }
}

export interface TestServerOptions {
  state?: string
  view?: MemoryView
  config?: Partial<GuardConfig>
  https?: { cert: string; key: string }
  verifier?: Verifier
  clock?: () => number
  bodyLimit?: number
  requestTimeoutMs?: number
  maxConnections?: number
  bodyBudget?: BodyBudget
  parseCheck?: ParseCheck
  logLevel?: string
}

export async function testServer(opts: TestServerOptions = {}) {
  const view = opts.view ?? loadStateFile(opts.state ?? DEMO_STATE).view
  const config = defaultConfig(opts.config)
  const { logger, lines } = memoryLogger(opts.logLevel)
  const metrics = createMetrics(undefined, false)
  const clock = opts.clock ?? Date.now
  const handler = new AdmissionHandler({
    view,
    config,
    logger,
    metrics,
    clock,
    injector: new RecordingInjector(view, clock, config.injectionGraceSeconds * 1000),
    ...(opts.verifier ? { verifier: opts.verifier } : {}),
  })
  const app = await buildServer({
    handler,
    logger,
    metrics,
    status: { ready: () => true },
    https: opts.https ?? null,
    ...(opts.bodyLimit ? { bodyLimit: opts.bodyLimit } : {}),
    ...(opts.requestTimeoutMs ? { requestTimeoutMs: opts.requestTimeoutMs } : {}),
    ...(opts.maxConnections ? { maxConnections: opts.maxConnections } : {}),
    ...(opts.bodyBudget ? { bodyBudget: opts.bodyBudget } : {}),
    ...(opts.parseCheck ? { parseCheck: opts.parseCheck } : {}),
  })
  return { app, view, config, lines, metrics }
}

export function decodePatch(response: { patch?: string }): any[] | undefined {
  return response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) : undefined
}
