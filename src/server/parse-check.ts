// Large JSON bodies are parsed first in a child process with a small heap of its own, and only one that parsed
// there within its memory bound is parsed again by the server.
//
// Why: what JSON.parse allocates is not bounded by the size of the text. V8 gives an object whose only key is a
// small number (`{"34":0}`) a backing store for every index up to it, ~300 bytes for 9 bytes of text: 5 MiB of
// those take more than the 192 MiB heap the Deployment gives, and the process aborts (the density check, one object
// per 8 bytes, lets them through). Other shapes cost 20–40 bytes of heap per byte of text. Rather than predict
// V8's representation from the text, the child's own heap limit measures it: a body whose parse does not fit in
// it ends the child (which is replaced), not the server, and is refused with a 413. What fits is parsed in the
// server with the same JSON.parse, so it takes the same memory there: at most the child's bound.
// A process rather than a worker thread: a worker's heap limit (resourceLimits) is overridden by the process's
// --max-old-space-size, which the Deployment sets, and a worker out of memory still takes the pod's memory.
//
// Kubernetes objects are far from it: 3 MiB of JSON (a review of an object at etcd's 1.5 MiB and its oldObject)
// parse into 3–12 MiB (a Deployment with managedFields 3.9 bytes of heap per byte, a NetworkPolicy of ipBlocks
// 2.7, a ConfigMap 1.1, 50,000 labels 2.4). Only bodies over a threshold take this path (reviews the apiserver sends
// are a few KiB), one at a time, so there is one child whatever the load; it exits after a minute without work.
import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'

/** Bodies longer than this are parsed in the child first. */
export const PARSE_CHECK_CHARS = 1024 * 1024

/** The child's old generation (--max-old-space-size), which holds the text and what its parse keeps: 8× the largest body. */
export const PARSE_HEAP_MIB = 48

/** A body whose parse takes more memory than the bound. */
export class ParseTooCostlyError extends Error {
  readonly statusCode = 413
  constructor(heapMiB: number) {
    super(`request body takes more than ${heapMiB} MiB of memory to parse, far more than a Kubernetes object of its size: not parsed`)
  }
}

// Reads bodies from stdin, each a 4-byte big-endian length and that many bytes of UTF-8, parses each, and writes a
// line for each: {"ok":true} or {"ok":false,"error":"<JSON.parse's message>"}. The parse's result is dropped.
const CHILD_SOURCE = `
let body, filled = 0, header = Buffer.alloc(0)
function parse(buf) {
  let error
  try { JSON.parse(buf.toString('utf8')) } catch (e) { error = String(e && e.message) }
  process.stdout.write(JSON.stringify(error === undefined ? { ok: true } : { ok: false, error }) + '\\n')
}
process.stdin.on('data', (chunk) => {
  while (chunk.length > 0) {
    if (body === undefined) {
      header = Buffer.concat([header, chunk])
      if (header.length < 4) return
      body = Buffer.allocUnsafe(header.readUInt32BE(0))
      filled = 0
      chunk = header.subarray(4)
      header = Buffer.alloc(0)
    }
    const n = Math.min(chunk.length, body.length - filled)
    chunk.copy(body, filled, 0, n)
    filled += n
    chunk = chunk.subarray(n)
    if (filled === body.length) {
      const done = body
      body = undefined
      parse(done)
    }
  }
})
`

/** The child gets this long without a body before it is ended (it is started again when one comes). */
const IDLE_EXIT_MS = 60_000

interface Job {
  text: string
  done: (err: Error | null) => void
}

export class ParseCheck {
  private child: ChildProcess | undefined
  private readonly queue: Job[] = []
  /** The job the child is parsing, if any. */
  private running: Job | undefined
  private idleTimer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly heapMiB: number = PARSE_HEAP_MIB) {}

  /**
   * Whether `text` parses within the bound: done(null) if it does; a SyntaxError with JSON.parse's message if it is
   * not JSON; ParseTooCostlyError if its parse needs more memory.
   */
  check(text: string, done: (err: Error | null) => void): void {
    if (this.closed) return done(new Error('server is closing'))
    this.queue.push({ text, done })
    this.next()
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0)
  }

  /** The child's pid while one runs (for tests). */
  get pid(): number | undefined {
    return this.child?.pid
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.idleTimer)
    const running = this.running
    this.running = undefined
    for (const job of [...(running ? [running] : []), ...this.queue.splice(0)]) job.done(new Error('server is closing'))
    await this.stopChild()
  }

  private next(): void {
    if (this.running || this.queue.length === 0 || this.closed) return
    clearTimeout(this.idleTimer)
    const job = (this.running = this.queue.shift()!)
    const child = this.childProcess()
    // A parse in progress keeps the server's process alive, as pending I/O does; an idle child does not.
    child.ref()
    const bytes = Buffer.from(job.text, 'utf8')
    const header = Buffer.alloc(4)
    header.writeUInt32BE(bytes.length, 0)
    child.stdin!.write(header)
    child.stdin!.write(bytes)
  }

  private finish(err: Error | null): void {
    const job = this.running
    this.running = undefined
    job?.done(err)
    if (this.queue.length > 0) return this.next()
    this.child?.unref()
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => void this.stopChild(), IDLE_EXIT_MS)
    this.idleTimer.unref()
  }

  private async stopChild(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.ref() // until it has exited: close() resolves when it has
    child.kill('SIGKILL')
    await exited
  }

  private childProcess(): ChildProcess {
    if (this.child) return this.child
    // NODE_OPTIONS is the server's (its own --max-old-space-size among them): the child's bound is its own.
    const { NODE_OPTIONS: _serverOptions, ...env } = process.env
    const child = spawn(process.execPath, [`--max-old-space-size=${this.heapMiB}`, '--max-semi-space-size=4', '-e', CHILD_SOURCE], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env,
    })
    child.unref()
    ;(child.stdout as Socket).unref()
    child.stdin!.on('error', () => undefined) // a child gone mid-write: its exit says why
    let lines = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (s: string) => {
      lines += s
      for (let nl = lines.indexOf('\n'); nl !== -1; nl = lines.indexOf('\n')) {
        const line = lines.slice(0, nl)
        lines = lines.slice(nl + 1)
        const m = JSON.parse(line) as { ok: boolean; error?: string }
        if (this.child === child && this.running) this.finish(m.ok ? null : new SyntaxError(m.error))
      }
    })
    // Out of memory, V8 aborts (SIGABRT); the kernel's OOM killer sends SIGKILL: the body it was parsing is the one
    // that did not fit. The next body gets a new child.
    child.on('exit', (code, signal) => {
      if (this.child !== child) return
      this.child = undefined
      if (!this.running) return
      this.finish(signal === 'SIGABRT' || signal === 'SIGKILL' ? new ParseTooCostlyError(this.heapMiB) : new Error(`JSON parse process exited (${signal ?? `code ${code}`})`))
    })
    this.child = child
    return child
  }
}
