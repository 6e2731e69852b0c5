// A watch of the API server, read line by line: each line is one event, `{"type": ..., "object": ...}`.
//
// client-node's Watch skips a line it cannot parse and goes on; the next event then moves the resourceVersion past
// the lost one, and the view never learns of it (not at a relist either, if none comes). Here a line that is not an
// event ends the watch with an error, so that the reflector resumes from the last event it applied and the API
// server sends the lost one again. An event over MAX_RESPONSE_CHARS ends the watch too, before it can exhaust the
// heap.
import type { KubeConfig } from '@kubernetes/client-node'
import { isRecord } from '../k8s/types.js'
import { apiError, kubeGet, MAX_RESPONSE_CHARS, ResponseTooLargeError, type OpenRequest } from './kube-http.js'

export type WatchQuery = Record<string, string | number | boolean | undefined>

/** What the reflector needs of a watch (client-node's Watch has the same shape). */
export interface Watcher {
  /**
   * Opens a watch of `path`; `onEvent` gets each event, `onDone` is called once when the watch ends (null: the
   * server closed it cleanly). Resolves once it is open (or has failed: onDone is then called with the error).
   */
  watch(path: string, query: WatchQuery, onEvent: (type: string, object: unknown) => void, onDone: (err: unknown) => void): Promise<{ abort(): void }>
}

/** An event line that does not parse, or is not an event. */
export class MalformedWatchEventError extends Error {}

/** How long the body of a refused watch (its Status) is waited for. */
const ERROR_BODY_TIMEOUT_MS = 10_000

/** Nothing to abort: the watch failed before it was open. */
const NOT_OPEN = { abort: () => undefined }

export class KubeWatch implements Watcher {
  constructor(
    private readonly kc: KubeConfig,
    private readonly maxEventChars = MAX_RESPONSE_CHARS,
  ) {}

  async watch(path: string, query: WatchQuery, onEvent: (type: string, object: unknown) => void, onDone: (err: unknown) => void): Promise<{ abort(): void }> {
    let finished = false
    let open: OpenRequest
    try {
      open = await kubeGet(this.kc, path, { ...query, watch: true })
    } catch (e) {
      onDone(e)
      return NOT_OPEN
    }
    const req = open
    const res = req.response
    const finish = (err: unknown): void => {
      if (finished) return
      finished = true
      req.abort()
      onDone(err)
    }
    // Aborted by the reflector, which has already finished with this watch: no onDone.
    const handle = {
      abort: () => {
        finished = true
        req.abort()
      },
    }
    if (res.statusCode !== 200) {
      // The Status in the body says why; a body that does not come is not waited for long.
      const timer = setTimeout(() => req.abort(), ERROR_BODY_TIMEOUT_MS)
      void apiError(req, `watching ${path}`).then((e) => {
        clearTimeout(timer)
        finish(e)
      })
      return handle
    }
    // A half-open connection (a peer gone without a FIN) is found by TCP keepalive, as client-node does.
    res.socket?.setKeepAlive(true, 30_000)
    res.setEncoding('utf8')
    let partial = ''
    const deliver = (line: string): void => {
      let event: unknown
      try {
        event = JSON.parse(line)
      } catch (e) {
        return finish(new MalformedWatchEventError(`watch sent a line that is not JSON (${(e as Error).message})`))
      }
      if (!isRecord(event) || typeof event.type !== 'string') return finish(new MalformedWatchEventError('watch sent a line that is not an event'))
      try {
        onEvent(event.type, event.object)
      } catch (e) {
        finish(e)
      }
    }
    res.on('data', (chunk: string) => {
      let from = 0
      for (let nl = chunk.indexOf('\n'); nl !== -1 && !finished; nl = chunk.indexOf('\n', from)) {
        const line = partial + chunk.slice(from, nl)
        partial = ''
        from = nl + 1
        if (line.trim() !== '') deliver(line)
      }
      if (finished) return
      partial += chunk.slice(from)
      if (partial.length > this.maxEventChars) finish(new ResponseTooLargeError(`a watch event of ${path}`, this.maxEventChars))
    })
    // An event cut off by the end of the stream was not delivered: an error, so that the watch resumes before it.
    res.on('end', () => finish(partial.trim() === '' ? null : new Error('watch ended in the middle of an event')))
    res.on('error', finish)
    res.on('close', () => finish(res.complete ? null : new Error('watch connection closed')))
    return handle
  }
}
