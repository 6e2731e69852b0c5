// The benchmarks' server processes: the guard (the real CLI, `serve --state FILE`, its log to a file) and the bare
// Fastify baseline, each started as a child process and stopped with SIGTERM; and the check that the guard answers
// each request of the mix as the mix expects.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { request as httpsRequest, type Agent } from 'node:https'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { imageEnv } from './image-env.js'
import type { MixRequest } from './workload.js'

const HERE = dirname(fileURLToPath(import.meta.url))

function firstExisting(paths: string[]): string {
  const p = paths.find((x) => existsSync(x))
  if (!p) throw new Error(`none of ${paths.join(', ')} exists: run \`npm run build\` first`)
  return p
}

/** The built guard CLI and baseline server the benchmarks start (next to this file in dist/bench). */
export function builtScripts(): { cli: string; baselineScript: string } {
  return {
    cli: firstExisting([join(HERE, '..', 'cli.js'), join(HERE, '..', 'src', 'cli.js')]),
    baselineScript: firstExisting([join(HERE, 'baseline-server.js')]),
  }
}

/** POSTs a JSON body to a server on loopback (its certificate is self-signed) and reads the answer. */
export function postJson(port: number, path: string, body: string, agent?: Agent): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, servername: 'localhost', agent, path, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (r) => {
        let text = ''
        r.setEncoding('utf8')
        r.on('data', (d: string) => (text += d))
        r.on('end', () => res({ status: r.statusCode ?? 0, text }))
      },
    )
    req.on('error', rej)
    req.end(body)
  })
}

export interface Server {
  name: 'guard' | 'baseline'
  child: ChildProcess
  port: number
  stderr: string[]
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls a condition until it yields a value, or fails at the deadline. */
export async function waitFor<T>(what: string, deadlineMs: number, probe: () => T | undefined | Promise<T | undefined>, child?: ChildProcess): Promise<T> {
  const end = Date.now() + deadlineMs
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (child && child.exitCode !== null) throw new Error(`${what}: the process exited with ${child.exitCode}`)
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms`)
    await sleep(25)
  }
}

function servingPort(text: string, msg: string): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.includes(msg)) continue
    try {
      const o = JSON.parse(line) as { msg?: string; port?: number }
      if (o.msg === msg && typeof o.port === 'number') return o.port
    } catch {
      // a partial line; read again
    }
  }
  return undefined
}

function collectStderr(child: ChildProcess): string[] {
  const lines: string[] = []
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => {
    lines.push(d)
    if (lines.length > 200) lines.shift()
  })
  return lines
}

/** true when GET /readyz answers 200. */
function readyz(port: number): Promise<boolean> {
  return new Promise((res) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: 'localhost', path: '/readyz', rejectUnauthorized: false, timeout: 1000 }, (r) => {
      r.resume()
      res(r.statusCode === 200)
    })
    req.on('error', () => res(false))
    req.on('timeout', () => req.destroy())
    req.end()
  })
}

/** A free loopback port (only for a guard logging below info, which does not print its bound port). */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer()
    srv.once('error', rej)
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address()
      const port = typeof a === 'object' && a ? a.port : 0
      srv.close(() => res(port))
    })
  })
}

/** How a server process is started: node's own flags, and a command that runs node (valgrind, say). */
export interface Launch {
  /** node flags, before the script */
  nodeFlags?: string[]
  /** a command line that runs node: `[...wrapper, node, ...nodeFlags, script, ...]` */
  wrapper?: string[]
  /** how long the server may take to listen (default 30 s) */
  startMs?: number
}

function command(launch: Launch, args: string[]): [string, string[]] {
  const [first, ...rest] = [...(launch.wrapper ?? []), process.execPath, ...(launch.nodeFlags ?? []), ...args]
  return [first!, rest]
}

export async function startGuard(cli: string, stateFile: string, logFile: string, logLevel: string, launch: Launch = {}): Promise<Server> {
  // stdout goes straight to a file, as a container runtime would take it: the guard pays its own logging cost
  // and this process does not spend CPU reading it.
  const announces = ['trace', 'debug', 'info'].includes(logLevel)
  const fixedPort = announces ? 0 : await freePort()
  const fd = openSync(logFile, 'w')
  const [file, args] = command(launch, [cli, 'serve', '--host', '127.0.0.1', '--port', String(fixedPort), '--state', stateFile])
  const child = spawn(file, args, {
    stdio: ['ignore', fd, 'pipe'],
    // As the image runs it: its ENV (NODE_ENV, the malloc settings) over this environment.
    env: { ...process.env, ...imageEnv(), LOG_LEVEL: logLevel },
  })
  closeSync(fd)
  const stderr = collectStderr(child)
  const port = announces
    ? await waitFor('guard "netpol-guard serving" log line', launch.startMs ?? 30_000, () => servingPort(readFileSync(logFile, 'utf8'), 'netpol-guard serving'), child)
    : await waitFor('guard listening', launch.startMs ?? 30_000, async () => ((await readyz(fixedPort)) ? fixedPort : undefined), child)
  return { name: 'guard', child, port, stderr }
}

export async function startBaseline(script: string, launch: Launch = {}): Promise<Server> {
  const [file, args] = command(launch, [script])
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } })
  const stderr = collectStderr(child)
  let out = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => (out += d))
  const port = await waitFor('baseline "baseline serving" line', launch.startMs ?? 30_000, () => servingPort(out, 'baseline serving'), child)
  return { name: 'baseline', child, port, stderr }
}

export async function stopServer(s: Server): Promise<number | null> {
  if (s.child.exitCode !== null) return s.child.exitCode
  const exited = new Promise<number | null>((r) => s.child.once('exit', (code) => r(code)))
  s.child.kill('SIGTERM')
  const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)])
  if (code === 'timeout') {
    s.child.kill('SIGKILL')
    return await exited
  }
  return code
}


/** Sends each request of the mix once and checks the guard's answers against what the mix expects. */
export async function sanityCheck(port: number, mix: MixRequest[]): Promise<Record<string, number>> {
  const seen: Record<string, number> = {}
  for (const m of mix) {
    const { status, text } = await postJson(port, m.path, JSON.stringify(m.review))
    if (status !== 200) throw new Error(`sanity: ${m.label} answered ${status}: ${text}`)
    const r = (JSON.parse(text) as { response: { uid: string; allowed: boolean; patch?: string } }).response
    const got = r.patch ? 'patch' : r.allowed ? 'allow' : 'deny'
    if (got !== m.expect || r.uid !== m.review.request.uid) throw new Error(`sanity: ${m.label} in the mix expected ${m.expect}, got ${got}: ${text}`)
    const key = `${m.label} → ${got}`
    seen[key] = (seen[key] ?? 0) + 1
  }
  return seen
}

