// Reads a request body for the JSON parser, as Fastify's own reader does for the app's body limit (checked against
// the Content-Length up front and against the bytes as they come; a body shorter or longer than its Content-Length
// is refused), plus one bound of its own: the bytes of large bodies held at once, over all requests.
//
// Why the bound: a body is held in memory until it has arrived in full, and the body limit (6 MiB) allows a peer
// that opens a few dozen connections and sends each a large body, slowly, to hold more than the pod's memory
// limit (the request timeout ends each after 30 s; it can open them again). A body with a Content-Length (the
// apiserver always sends one) takes its whole length from the budget when it starts, so a body once admitted is
// never cut short by others; one without takes its bytes as they come. Bodies up to SMALL_BODY_BYTES, which every
// review the apiserver sends is, are always admitted (at most --max-connections × 64 KiB of them). A larger body
// that would take the budget past its limit is refused with a 429 and Retry-After, as an overloaded apiserver
// answers; the refused body is still read, and dropped, so that the client gets the answer rather than a reset.
import { errorCodes } from 'fastify'
import { isUtf8 } from 'node:buffer'
import type { Readable } from 'node:stream'

/** Bodies up to this size are always admitted, whatever the budget: the reviews the apiserver sends are this small. */
export const SMALL_BODY_BYTES = 64 * 1024

/** Bytes of bodies being received at once, beyond which a large body is refused (enough for two of the largest). */
export const DEFAULT_BODY_BUDGET = 16 * 1024 * 1024

const MiB = 1024 * 1024

/** A large body that would take the bytes held past the budget. */
export class BodyBudgetError extends Error {
  readonly statusCode = 429
  readonly code = 'NETPOL_GUARD_BODY_BUDGET'
  constructor(budget: number) {
    const size = budget % MiB === 0 ? `${budget / MiB} MiB` : `${Math.round(budget / 1024)} KiB`
    super(`too many large request bodies at once: this replica holds at most ${size} of them while they arrive; retry shortly`)
  }
}

/** The bytes of request bodies held now, over all requests, against one budget. */
export class BodyBudget {
  private bytes = 0

  constructor(readonly limit: number = DEFAULT_BODY_BUDGET) {}

  /** Bytes held now. */
  get held(): number {
    return this.bytes
  }

  fits(bytes: number): boolean {
    return this.bytes + bytes <= this.limit
  }

  take(bytes: number): void {
    this.bytes += bytes
  }

  give(bytes: number): void {
    this.bytes -= bytes
  }
}

/**
 * Reads `payload` to its end and hands `done` the body as UTF-8 text, or an error with a 4xx statusCode (413 over the
 * limit, 400 for a Content-Length that does not match or bytes that are not UTF-8, 429 over the budget; a stream
 * error keeps its own, else 400).
 * `contentLength` is the header's value as a number (NaN when there is none).
 */
export function readBody(
  payload: Readable,
  contentLength: number,
  bodyLimit: number,
  budget: BodyBudget,
  done: (err: Error | null, text?: string) => void,
): void {
  if (contentLength > bodyLimit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
  const announced = !Number.isNaN(contentLength)
  // Set once the body is refused for the budget: from then on it is read and dropped, and nothing is held for it.
  let refusal: BodyBudgetError | undefined
  let taken = 0
  if (announced) {
    if (contentLength > SMALL_BODY_BYTES && !budget.fits(contentLength)) refusal = new BodyBudgetError(budget.limit)
    else budget.take((taken = contentLength))
  }
  let received = 0
  let finished = false
  // The body so far. Its first chunk is kept as it is (most bodies come in one); from the second on, the bytes are
  // copied into one buffer rather than kept as a list of chunks: a chunk costs ~600 bytes of memory of its own, so
  // a body sent a byte at a time (TLS records and HTTP chunks may be that small) would take 600 times its size.
  let first: Buffer | undefined
  let joined: Buffer | undefined

  const finish = (err: Error | null, text?: string): void => {
    if (finished) return
    finished = true
    // After 'end' (the usual way here) the stream emits no more data, and its listeners stay: a later 'error' or
    // 'close' finds `finished` set. Four removals per request saved; a refusal before the end stops the reading.
    if (err) {
      payload.removeListener('data', onData)
      payload.removeListener('end', onEnd)
      payload.removeListener('error', onError)
      payload.removeListener('close', onClose)
    }
    first = joined = undefined
    budget.give(taken)
    done(err, text)
  }

  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    received += bytes.length
    if (received > bodyLimit) return finish(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE())
    if (refusal) return
    if (!announced) {
      budget.take(bytes.length)
      taken += bytes.length
      if (received > SMALL_BODY_BYTES && budget.held > budget.limit) {
        refusal = new BodyBudgetError(budget.limit)
        budget.give(taken)
        taken = 0
        first = joined = undefined
        return
      }
    }
    keep(bytes)
  }

  function keep(bytes: Buffer): void {
    if (first === undefined && joined === undefined) {
      first = bytes
      return
    }
    const had = received - bytes.length
    if (joined === undefined || joined.length < received) {
      // Announced: the whole length at once. Chunked: doubled as it grows, up to the limit.
      const size = announced ? contentLength : Math.min(bodyLimit, Math.max(2 * received, 16 * 1024))
      const grown = Buffer.allocUnsafe(size)
      if (joined) joined.copy(grown, 0, 0, had)
      else first!.copy(grown, 0)
      joined = grown
      first = undefined
    }
    bytes.copy(joined, had)
  }

  function onEnd(): void {
    if (refusal) return finish(refusal)
    if (announced && received !== contentLength) return finish(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH())
    // Decoded once, whole: a character split across two chunks stays whole.
    const bytes = joined ? joined.subarray(0, received) : (first ?? Buffer.alloc(0))
    const text = bytes.toString('utf8')
    // Bytes that are not UTF-8 decode to U+FFFD: refused rather than judged as a name full of "�". The search costs
    // nothing for the usual ASCII body (V8 knows a one-byte string cannot hold U+FFFD); a body that holds one is
    // then validated, since U+FFFD may also be written in UTF-8 on purpose.
    if (text.indexOf('\uFFFD') !== -1 && !isUtf8(bytes)) return finish(Object.assign(new Error('request body is not valid UTF-8'), { statusCode: 400 }))
    finish(null, text)
  }

  function onError(err: Error & { statusCode?: number }): void {
    if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400
    finish(err)
  }

  // The peer went away mid-body without an error event: what was held is given back all the same.
  function onClose(): void {
    // 'close' also comes after a body read in full, when the request is done: nothing to do then.
    if (!finished) onError(Object.assign(new Error('request aborted'), { code: 'ECONNRESET' }))
  }

  payload.on('data', onData)
  payload.on('end', onEnd)
  payload.on('error', onError)
  payload.on('close', onClose)
  payload.resume()
}
