// The log destination of `serve`: pino's lines, gathered while the event loop works on a batch of requests and
// written to the file descriptor in one write(2) when that turn of the loop is over (or once 64 KiB are waiting).
// Each line is encoded into one reusable buffer as it comes, so a batch costs one copy and no joined string.
// One line per admission decision is the guard's main per-request cost otherwise: a write(2) per line, or
// sonic-boom's minLength buffering, which measures the growing buffer's UTF-8 length on every line.
//
// Writes stay synchronous: nothing piles up in memory when stdout is slow (the writer waits, as pino's default
// destination does), and lines are never reordered. flushSync() writes out what is waiting; serve calls it after
// lifecycle lines and it runs on process exit, so a SIGTERM or a crash loses nothing that was logged.
import { writeSync } from 'node:fs'

const BATCH_BYTES = 64 * 1024
const EAGAIN_WAIT_MS = 2
const sleeper = new Int32Array(new SharedArrayBuffer(4))

export class BatchedLogStream {
  /** Lines are encoded straight into this buffer as they come (one copy); flushSync writes what it holds. */
  private readonly batch = Buffer.allocUnsafe(BATCH_BYTES)
  private pending = 0
  private scheduled = false
  /** Set when the descriptor cannot be written (EPIPE: the reader is gone): lines are dropped from then on. */
  private broken = false
  private readonly flushSoon = () => {
    this.scheduled = false
    try {
      this.flushSync()
    } catch {
      // as pino's own destination does on EPIPE: stop logging rather than fail requests or crash the webhook
      this.broken = true
      this.pending = 0
    }
  }

  constructor(private readonly fd: number) {}

  /** pino calls this with one serialized line (newline included). */
  write(line: string): boolean {
    if (this.broken) return true
    // UTF-8 needs at most 3 bytes per UTF-16 unit: make sure the whole line fits before encoding it.
    if (this.pending + line.length * 3 > BATCH_BYTES) {
      this.flushSoon()
      if (this.broken) return true
      if (line.length * 3 > BATCH_BYTES) {
        try {
          this.writeAll(Buffer.from(line, 'utf8'))
        } catch {
          this.broken = true
        }
        return true
      }
    }
    this.pending += this.batch.write(line, this.pending, 'utf8')
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushSoon)
    }
    return true
  }

  /** Writes out every waiting line now. */
  flushSync(): void {
    if (this.pending === 0) return
    const n = this.pending
    this.pending = 0
    this.writeAll(this.batch.subarray(0, n))
  }

  /** pino's logger.flush() calls this. */
  flush(cb?: (err?: Error) => void): void {
    try {
      this.flushSync()
      cb?.()
    } catch (e) {
      cb?.(e as Error)
    }
  }

  /** Handles short writes, and EAGAIN on a non-blocking pipe by waiting. */
  private writeAll(buf: Buffer): void {
    let off = 0
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off)
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code
        if (code !== 'EAGAIN') throw e
        Atomics.wait(sleeper, 0, 0, EAGAIN_WAIT_MS)
      }
    }
  }
}
