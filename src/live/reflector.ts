// A list+watch loop for one resource (client-node's informer stops for good after an error; this loop does not):
// list, then watch from the list's resourceVersion, resume from the last seen resourceVersion after a drop or a
// server-side timeout, relist on 410 Gone and on any other ERROR event but 429 (resuming from where the server
// refused, e.g. "too large resource version" after an etcd restore, would be refused again; client-go also
// relists, though it first retries a 500 on the watch a few times), back off (capped, with jitter, longer when
// the server says Retry-After) after errors and after watches that make no progress.
// Activity, which the view's staleness check reads, is what shows that the view is current: a list page, a watch
// event or bookmark, or a watch the server ended cleanly (it had nothing more to send). An open watch that says
// nothing is not: a server can accept watches and never send on them, and the view would look fresh for ever.
// Lists are chunked (limit + continue, as client-go's pager does): a large cluster never arrives as one response,
// and each page can be boiled down to what the view keeps (list() maps raw objects to T) before the next one is
// fetched, so peak memory is one page, not the whole list. The pages are collected and swapped in at once, with
// the resourceVersion of the last page; a continue token that expired (410) restarts the list from the top.
import type { Logger } from 'pino'
import type { KubeObject } from '../k8s/types.js'
import { Backoff, sleep } from './backoff.js'
import { ResponseTooLargeError } from './kube-http.js'
import type { Watcher } from './kube-watch.js'
import { describeError, retryAfterMs, statusCode } from './kube.js'

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED'

/** Which chunk of a list to fetch. */
export interface ListRequest {
  /** Page size; undefined: everything at once. */
  limit?: number
  /** The previous page's continue token; undefined for the first page. */
  continue?: string
}

/** One chunk of a list: its items, the list's resourceVersion, and the token for the next chunk (none: last). */
export interface ListPage<T> {
  items: T[]
  resourceVersion: string
  continue?: string
}

/** Default page size of the initial list and relists (client-go's pager uses 500 too). */
export const DEFAULT_PAGE_SIZE = 500

export interface ReflectorOptions<T = KubeObject> {
  /** Name for logs and the restart metric, e.g. "namespaces". */
  resource: string
  /** Cluster-wide watch path, e.g. /api/v1/namespaces. */
  watchPath: string
  watch: Watcher
  /**
   * One page of the list (metadata.resourceVersion, metadata.continue), its items already mapped to what the
   * consumer keeps. A list function that ignores the request and returns no continue token is a single-page list.
   */
  list(req: ListRequest): Promise<ListPage<T>>
  /** Swaps the whole content in (initial list and relists): the items of every page, in order. */
  replace(items: T[]): void
  /** Items per page (default 500); 0: unchunked. */
  pageSize?: number
  apply(type: WatchEventType, obj: KubeObject): void
  logger: Logger
  onRestart?(): void
  /** Server-side watch timeout; a watch is re-established after it (a cheap liveness check on idle clusters). */
  watchTimeoutSeconds?: number
  backoffInitialMs?: number
  backoffMaxMs?: number
  clock?: () => number
}

interface WatchOutcome {
  resourceVersion: string
  /** Only a fresh list gets back: the resourceVersion expired (410), or the server sent another ERROR event (not 429). */
  relist?: 'expired' | 'error event'
  /** Why the watch ended, unless the server closed it cleanly (or it expired). */
  error?: unknown
}

export class Reflector<T = KubeObject> {
  private synced = false
  private lastActivity = 0
  private readonly abort = new AbortController()
  private abortWatch: (() => void) | undefined
  private done: Promise<void> | undefined
  private readonly clock: () => number
  private readonly backoff: Backoff

  constructor(private readonly opts: ReflectorOptions<T>) {
    this.clock = opts.clock ?? Date.now
    this.backoff = new Backoff({ initialMs: opts.backoffInitialMs ?? 200, maxMs: opts.backoffMaxMs ?? 30_000 })
  }

  /** The initial list is in. */
  hasSynced(): boolean {
    return this.synced
  }

  /** ms timestamp of the last list page, watch event or bookmark, or watch the server closed cleanly. */
  lastActivityAt(): number {
    return this.lastActivity
  }

  start(): void {
    this.done ??= this.run()
  }

  async stop(): Promise<void> {
    this.abort.abort()
    this.abortWatch?.()
    await this.done
  }

  private touch(): void {
    this.lastActivity = this.clock()
  }

  private async run(): Promise<void> {
    const log = this.opts.logger
    let rv: string | undefined
    while (!this.abort.signal.aborted) {
      if (rv === undefined) {
        try {
          rv = await this.relist()
          if (rv === undefined) return
        } catch (e) {
          const delay = this.retryDelay(e)
          log.warn({ resource: this.opts.resource, err: describeError(e), retryInMs: delay }, 'list failed')
          await sleep(delay, this.abort.signal)
          continue
        }
      }
      const started = this.clock()
      const out = await this.watchOnce(rv)
      if (this.abort.signal.aborted) return
      const progressed = out.resourceVersion !== rv
      rv = out.resourceVersion
      this.opts.onRestart?.()
      // A watch that moved the resourceVersion, or that the server held open for a while and closed cleanly (its
      // timeout), shows a working connection. Events that do not move it do not: a server could send one and close,
      // again and again.
      const heldFor = this.clock() - started
      const healthy = progressed || (out.error === undefined && out.relist === undefined && heldFor >= Math.min(1000, this.watchTimeoutSeconds() * 500))
      if (healthy) this.backoff.reset()
      if (out.relist !== undefined) {
        if (out.relist === 'expired') log.info({ resource: this.opts.resource }, 'watch expired (410 Gone); relisting')
        else log.warn({ resource: this.opts.resource, err: describeError(out.error) }, 'watch ERROR event; relisting')
        rv = undefined
        // At once after a watch that made progress (our resourceVersion was compacted away while we watched, the
        // usual case); backed off otherwise, or a server that refuses every watch would be relisted back to back.
        if (!progressed) await sleep(this.retryDelay(out.error), this.abort.signal)
        continue
      }
      if (healthy && out.error === undefined) {
        log.debug({ resource: this.opts.resource, resourceVersion: rv }, 'watch closed; resuming')
        continue
      }
      const delay = this.retryDelay(out.error)
      log.warn({ resource: this.opts.resource, err: out.error === undefined ? 'closed without progress' : describeError(out.error), retryInMs: delay }, 'watch failed; reconnecting')
      await sleep(delay, this.abort.signal)
    }
  }

  /** The next backoff delay, or longer when the server asked for it (Retry-After, as client-go honours it). */
  private retryDelay(err: unknown): number {
    return Math.max(this.backoff.next(), retryAfterMs(err) ?? 0)
  }

  /**
   * Lists everything and swaps it in; returns the list's resourceVersion (undefined when stopped meanwhile).
   * A method of its own so that the items die with its frame: a suspended async function (run(), waiting on the
   * watch) keeps every local it ever had alive, and the listed items would stay in memory beside the view.
   */
  private async relist(): Promise<string | undefined> {
    const listed = await this.listAll()
    if (!listed) return undefined
    // Synced before the swap: replace() notifies the view's listeners, and a listener asking whether the view is
    // synced (the reconciler's pass after the initial list) must hear yes.
    const wasSynced = this.synced
    this.synced = true
    try {
      this.opts.replace(listed.items)
    } catch (e) {
      this.synced = wasSynced
      throw e
    }
    this.touch()
    this.opts.logger.debug({ resource: this.opts.resource, count: listed.items.length, pages: listed.pages, resourceVersion: listed.resourceVersion }, 'listed')
    return listed.resourceVersion
  }

  /** Every page of a list; undefined when stopped meanwhile. */
  private async listAll(): Promise<{ items: T[]; resourceVersion: string; pages: number } | undefined> {
    const size = this.opts.pageSize ?? DEFAULT_PAGE_SIZE
    let limit = size > 0 ? size : undefined
    let items: T[] = []
    let token: string | undefined
    let resourceVersion = ''
    let pages = 0
    for (;;) {
      let page: ListPage<T>
      try {
        page = await this.opts.list({ limit, continue: token })
      } catch (e) {
        // A page too large to read (objects far larger than usual): the list again from the top, in pages half the
        // size, down to one object a page.
        if (e instanceof ResponseTooLargeError && limit !== undefined && limit > 1) {
          limit = Math.ceil(limit / 2)
          this.opts.logger.warn({ resource: this.opts.resource, err: e.message, pageSize: limit }, 'list page too large; listing again in smaller pages')
          items = []
          token = undefined
          pages = 0
          continue
        }
        // 410 on a continuation: the snapshot behind the token was compacted; only a fresh list is consistent.
        if (token !== undefined && statusCode(e) === 410)
          this.opts.logger.info({ resource: this.opts.resource, pages }, 'list continuation expired (410 Gone); restarting the list')
        throw e
      }
      if (this.abort.signal.aborted) return undefined
      for (const it of page.items) items.push(it)
      resourceVersion = page.resourceVersion
      token = page.continue || undefined
      pages++
      this.touch() // a page arrived: the API server is there and answering
      if (token === undefined) return { items, resourceVersion, pages }
    }
  }

  private watchTimeoutSeconds(): number {
    return this.opts.watchTimeoutSeconds ?? 300
  }

  private watchOnce(rv: string): Promise<WatchOutcome> {
    const timeoutS = this.watchTimeoutSeconds()
    // A connection that says nothing for this long is presumed dead (half-open TCP, stuck proxy).
    const idleLimitMs = timeoutS * 1000 + Math.max(5000, timeoutS * 500)
    return new Promise((resolve) => {
      let lastRv = rv
      let relist: WatchOutcome['relist']
      let finished = false
      let controller: { abort(): void } | undefined
      let lastHeard = this.clock()
      const finish = (error?: unknown): void => {
        if (finished) return
        finished = true
        clearInterval(watchdog)
        this.abortWatch = undefined
        controller?.abort()
        resolve({ resourceVersion: lastRv, ...(relist ? { relist } : {}), ...(error !== undefined && error !== null ? { error } : {}) })
      }
      const watchdog = setInterval(() => {
        if (this.clock() - lastHeard > idleLimitMs) finish(new Error(`watch silent for ${idleLimitMs} ms`))
      }, Math.min(5000, idleLimitMs / 2))
      watchdog.unref()
      this.abortWatch = () => finish()
      const onEvent = (type: string, obj: unknown): void => {
        if (finished) return
        lastHeard = this.clock()
        const o = (obj ?? {}) as KubeObject & { code?: number }
        if (type === 'ERROR') {
          // Not activity: the server is there, but the view is not being kept current.
          const details = (o as { details?: { retryAfterSeconds?: unknown } }).details
          const error = Object.assign(new Error(`watch ERROR event: ${String((o as { message?: unknown }).message ?? JSON.stringify(o))}`), {
            code: o.code,
            retryAfterSeconds: details?.retryAfterSeconds,
          })
          // 429: the server is overloaded; watch again once it says so, without the load of a relist.
          if (o.code === 410) relist = 'expired'
          else if (o.code !== 429) relist = 'error event'
          finish(relist === 'expired' ? undefined : error)
          return
        }
        this.touch()
        const objRv = o.metadata?.resourceVersion
        if (type === 'BOOKMARK') {
          if (objRv) lastRv = objRv
          return
        }
        if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return
        try {
          this.opts.apply(type, o)
        } catch (e) {
          this.opts.logger.error({ resource: this.opts.resource, err: (e as Error).message }, 'applying a watch event failed')
        }
        if (objRv) lastRv = objRv
      }
      const onDone = (err: unknown): void => {
        if (finished) return
        if (statusCode(err) === 410) relist = 'expired'
        // Closed cleanly by the server: it has sent all it had, so the view was current when it closed.
        else if (err === null || err === undefined) this.touch()
        finish(relist === 'expired' ? undefined : err)
      }
      this.opts.watch
        .watch(this.opts.watchPath, { resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: timeoutS }, onEvent, onDone)
        .then(
          (c) => {
            controller = c
            if (finished) c.abort()
            else lastHeard = this.clock()
          },
          (e) => finish(e),
        )
    })
  }
}
