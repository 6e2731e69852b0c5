// The benchmarks' server processes: the guard (the real CLI, `serve --state FILE`, its log to a pipe) and the bare
// Fastify baseline, each started as a child process and stopped with SIGTERM; and the check that the guard answers
// each request of the mix as the mix expects.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, constants, existsSync, openSync, writeSync } from 'node:fs'
import { request as httpsRequest, type Agent } from 'node:https'
import { createServer, Socket } from 'node:net'
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
  /** The guard's stdout, as read from its pipe. */
  log?: GuardLog
}

/** The marker of an admission decision's line (decision-log.ts writes `"msg":"admission validate deny"`, ...). */
const ADMISSION_LINE = Buffer.from('"msg":"admission ')

/**
 * The guard's stdout as a container runtime takes it: a pipe (a FIFO, as containerd gives a container's stdout),
 * read by this process. It counts the admission lines and the bytes, keeps the other lines (startup, lifecycle,
 * warnings: a few), and writes everything to `keepFile` when there is one.
 *
 * Not a file: written to a file, even on tmpfs, the guard's log costs the guard a new page every 4 KiB (on a VM the
 * page may also be one the host has not backed yet), ~2.7 µs per request here (bench/README.md), which a pipe whose
 * pages are reused does not cost, nor does a container runtime charge it to the container.
 */
export class GuardLog {
  admissionLines = 0
  bytes = 0
  private readonly others: string[] = []
  private partial: Buffer | undefined
  /** Resolves when the guard has closed its end (it exited) and everything it wrote has been read. */
  readonly closed: Promise<void>

  constructor(
    private readonly reader: Socket,
    private keepFd: number | undefined,
  ) {
    this.closed = new Promise((res) => {
      const done = () => {
        this.closeKeepFile()
        res()
      }
      reader.on('end', done)
      reader.on('error', done)
    })
    reader.on('data', (chunk: Buffer) => this.take(chunk))
  }

  /** The lines other than admission decisions, so far. */
  text(): string {
    return this.others.join('')
  }

  private take(chunk: Buffer): void {
    this.bytes += chunk.length
    if (this.keepFd !== undefined) writeSync(this.keepFd, chunk)
    const buf = this.partial ? Buffer.concat([this.partial, chunk]) : chunk
    let start = 0
    for (let nl = buf.indexOf(10); nl !== -1; start = nl + 1, nl = buf.indexOf(10, start)) {
      const at = buf.indexOf(ADMISSION_LINE, start)
      if (at !== -1 && at < nl) this.admissionLines++
      else this.others.push(buf.toString('utf8', start, nl + 1))
    }
    this.partial = start < buf.length ? Buffer.from(buf.subarray(start)) : undefined
  }

  /** Stops reading (the guard's process is being abandoned). */
  close(): void {
    this.reader.destroy()
    this.closeKeepFile()
  }

  private closeKeepFile(): void {
    if (this.keepFd !== undefined) closeSync(this.keepFd)
    this.keepFd = undefined
  }
}

/** A FIFO at `path`: its write end for a child's stdout (close it once the child has it), and this process's reader of it. */
export function logPipe(path: string, keepFile: string | undefined): { writeFd: number; log: GuardLog } {
  execFileSync('mkfifo', ['-m', '600', path])
  // The read end first, non-blocking, so that opening the write end does not wait for a reader.
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  const writeFd = openSync(path, constants.O_WRONLY)
  const reader = new Socket({ fd: readFd, readable: true, writable: false })
  return { writeFd, log: new GuardLog(reader, keepFile === undefined ? undefined : openSync(keepFile, 'w')) }
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

/**
 * Starts the guard with its stdout on a FIFO in `dir` (see GuardLog); with `keepLog`, the whole log is also
 * written to `dir`/guard.log.
 */
export async function startGuard(cli: string, stateFile: string, dir: string, logLevel: string, launch: Launch & { keepLog?: boolean } = {}): Promise<Server> {
  const announces = ['trace', 'debug', 'info'].includes(logLevel)
  const fixedPort = announces ? 0 : await freePort()
  const { writeFd, log } = logPipe(join(dir, 'guard.stdout'), launch.keepLog ? join(dir, 'guard.log') : undefined)
  const [file, args] = command(launch, [cli, 'serve', '--host', '127.0.0.1', '--port', String(fixedPort), '--state', stateFile])
  const child = spawn(file, args, {
    stdio: ['ignore', writeFd, 'pipe'],
    // As the image runs it: its ENV (NODE_ENV, the malloc settings) over this environment.
    env: { ...process.env, ...imageEnv(), LOG_LEVEL: logLevel },
  })
  // The child holds the write end now: the reader sees the end of the log when the child exits.
  closeSync(writeFd)
  const stderr = collectStderr(child)
  try {
    const port = announces
      ? await waitFor('guard "netpol-guard serving" log line', launch.startMs ?? 30_000, () => servingPort(log.text(), 'netpol-guard serving'), child)
      : await waitFor('guard listening', launch.startMs ?? 30_000, async () => ((await readyz(fixedPort)) ? fixedPort : undefined), child)
    return { name: 'guard', child, port, stderr, log }
  } catch (e) {
    child.kill('SIGKILL')
    log.close()
    throw e
  }
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

