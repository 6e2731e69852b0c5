// Large JSON bodies are parsed first in a child process with a small heap of its own, and only one that parsed
// there within its memory bound is parsed again by the server.
//
// Why: what JSON.parse allocates is not bounded by the size of the text. V8 gives an object whose only key is a
// small number (`{"34":0}`) a backing store for every index up to it, ~300 bytes for 9 bytes of text: 5 MiB of
// those take more than the 192 MiB heap the Deployment gives, and the process aborts (the density check, one object
// per 8 bytes, lets them through). Other shapes cost 20–40 bytes of heap per byte of text. Rather than predict
// V8's representation from the text, the child's own heap limit measures it: a body whose parse does not fit in
// it ends the child, not the server, and is refused with a 413. What fits is parsed in the
// server with the same JSON.parse, so it takes the same memory there: at most the child's bound.
// A process rather than a worker thread: a worker's heap limit (resourceLimits) is overridden by the process's
// --max-old-space-size, which the Deployment sets, and a worker out of memory still takes the pod's memory.
//
// Kubernetes objects are far from it: 3 MiB of JSON (a review of an object at etcd's 1.5 MiB and its oldObject)
// parse into 3–12 MiB (a Deployment with managedFields 3.9 bytes of heap per byte, a NetworkPolicy of ipBlocks
// 2.7, a ConfigMap 1.1, 50,000 labels 2.4). Only bodies over a threshold take this path (reviews the apiserver sends
// are a few KiB), one at a time; each gets a child of its own, which exits once it has answered, so that its memory is
// given back before the server parses the body (a child costs ~0.25 s to start on a slow host, on a path that real reviews
// almost never take).
import { spawn, type ChildProcess } from 'node:child_process'

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

// Reads one body from stdin (UTF-8, to its end), parses it, writes {"ok":true} or {"ok":false,"error":"<JSON.parse's
// message>"} and exits. The parse's result is dropped.
const CHILD_SOURCE = `
const chunks = []
process.stdin.on('data', (c) => chunks.push(c))
process.stdin.on('end', () => {
  let error
  try { JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch (e) { error = String(e && e.message) }
  chunks.length = 0
  process.stdout.write(JSON.stringify(error === undefined ? { ok: true } : { ok: false, error }))
})
`

/** Bodies waiting for a child at most (beside the one being parsed); more are refused with a 429. */
export const MAX_WAITING = 4

/** A child gets this long for its parse (6 MiB takes ~0.5–1.5 s on a slow host), then it is killed. */
export const PARSE_DEADLINE_MS = 10_000

/** The server's own trouble (closing, a child that could not start or did not answer): a 503, not the client's. */
export class ParseUnavailableError extends Error {
  readonly statusCode = 503
}

/** Too many large bodies already waiting: the client should retry shortly (429, Retry-After). */
export class ParseQueueFullError extends Error {
  readonly statusCode = 429
  constructor() {
    super(`too many large request bodies waiting to be parsed (${MAX_WAITING + 1} at most); retry shortly`)
  }
}

interface Job {
  text: string
  done: (err: Error | null) => void
  /** True once nobody waits for the answer (the client hung up): the job is dropped, not parsed. */
  abandoned?: () => boolean
}

export class ParseCheck {
  private readonly queue: Job[] = []
  /** The job being parsed, and its child. */
  private running: { job: Job; child: ChildProcess } | undefined
  private closed = false

  constructor(
    private readonly heapMiB: number = PARSE_HEAP_MIB,
    private readonly deadlineMs: number = PARSE_DEADLINE_MS,
  ) {}

  /**
   * Whether `text` parses within the bound: done(null) if it does; a SyntaxError with JSON.parse's message if it is
   * not JSON; ParseTooCostlyError if its parse needs more memory; ParseQueueFullError when too many bodies wait;
   * ParseUnavailableError for the server's own trouble. `done` is called once, never synchronously.
   */
  check(text: string, done: (err: Error | null) => void, abandoned?: () => boolean): void {
    if (this.closed) return void process.nextTick(done, new ParseUnavailableError('server is closing'))
    if (this.pending > MAX_WAITING) return void process.nextTick(done, new ParseQueueFullError())
    this.queue.push({ text, done, ...(abandoned ? { abandoned } : {}) })
    process.nextTick(() => this.next())
  }

  /** Jobs waiting or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0)
  }

  async close(): Promise<void> {
    this.closed = true
    const running = this.running
    this.running = undefined
    for (const job of [...(running ? [running.job] : []), ...this.queue.splice(0)]) job.done(new ParseUnavailableError('server is closing'))
    const child = running?.child
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()))
      child.kill('SIGKILL')
      await exited
    }
  }

  private next(): void {
    if (this.running || this.closed) return
    let job: Job | undefined
    while ((job = this.queue.shift()) && job.abandoned?.()) job.done(new ParseUnavailableError('client gone before its body was parsed'))
    if (!job) return
    // NODE_OPTIONS is the server's (its own --max-old-space-size among them): the child's bound is its own. The
    // arguments assume process.execPath is node itself, as in the image (not a single-executable build).
    const { NODE_OPTIONS: _serverOptions, ...env } = process.env
    let child: ChildProcess
    try {
      child = spawn(process.execPath, [`--max-old-space-size=${this.heapMiB}`, '-e', CHILD_SOURCE], { stdio: ['pipe', 'pipe', 'ignore'], env })
    } catch (e) {
      return this.settle(job, new ParseUnavailableError(`JSON parse process could not start: ${(e as Error).message}`))
    }
    const running = (this.running = { job, child })
    const ended = (err: Error | null): void => {
      if (this.running !== running) return
      this.running = undefined
      clearTimeout(deadline)
      this.settle(job, err)
    }
    // Without this listener a failed spawn (EMFILE, ENOENT) would be an unhandled 'error' event.
    child.once('error', (e) => {
      child.kill('SIGKILL')
      ended(new ParseUnavailableError(`JSON parse process failed: ${e.message}`))
    })
    const deadline = setTimeout(() => {
      child.kill('SIGKILL')
      ended(new ParseUnavailableError(`JSON parse process gave no answer within ${this.deadlineMs} ms`))
    }, this.deadlineMs)
    if (!child.stdin || !child.stdout) {
      child.kill('SIGKILL')
      return ended(new ParseUnavailableError('JSON parse process could not start: no pipes'))
    }
    let answer = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (s: string) => (answer += s))
    child.stdin.on('error', () => undefined) // a child gone mid-write: its exit says why
    child.stdin.end(job.text, 'utf8')
    // The answer is whole once the child has exited. Out of memory, V8 aborts (SIGABRT); the kernel's OOM killer
    // sends SIGKILL: either way the body did not fit.
    child.once('close', (code, signal) => {
      if (code === 0) {
        let m: { ok?: unknown; error?: unknown } | undefined
        try {
          m = JSON.parse(answer) as { ok?: unknown; error?: unknown }
        } catch {
          m = undefined
        }
        if (m?.ok === true) return ended(null)
        if (m?.ok === false) return ended(new SyntaxError(String(m.error)))
        return ended(new ParseUnavailableError('JSON parse process gave no answer'))
      }
      if (signal === 'SIGABRT' || signal === 'SIGKILL') return ended(new ParseTooCostlyError(this.heapMiB))
      ended(new ParseUnavailableError(`JSON parse process exited (${signal ?? `code ${code}`})`))
    })
  }

  private settle(job: Job, err: Error | null): void {
    job.done(err)
    this.next()
  }
}
