// Capped exponential backoff with jitter, and an abortable sleep.

export interface BackoffOptions {
  initialMs: number
  maxMs: number
  factor?: number
}

export class Backoff {
  private attempt = 0
  constructor(private readonly opts: BackoffOptions) {}

  /** The next delay: initial * factor^n, capped, with ±20 % jitter so replicas do not retry in lockstep. */
  next(): number {
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * (this.opts.factor ?? 2) ** this.attempt)
    this.attempt++
    return Math.round(base * (0.8 + Math.random() * 0.4))
  }

  reset(): void {
    this.attempt = 0
  }

  get attempts(): number {
    return this.attempt
  }
}

/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
