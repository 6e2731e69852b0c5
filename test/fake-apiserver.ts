// A fake kube-apiserver for tests: the real REST paths and semantics the guard depends on (list + watch with a
// global resourceVersion, 404/409/410 as kubernetes Status objects, namespace lifecycle, discovery), plus
// fault injection (dropped watches, 500s, slow answers, stop/restart). Objects are plain JSON, as on the wire.
// Lists honour limit/continue (chunked lists: key order, opaque continue tokens, 410 Expired for a token older
// than the compaction point, every page reporting the first page's resourceVersion). Unlike etcd, continuation
// pages are read from the current state, not from a snapshot: an object changed between pages shows its newer
// version (a watch resumed from the list's resourceVersion replays that change anyway, so clients converge).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'

export interface ResourceDef {
  group: string
  version: string
  resource: string
  kind: string
  namespaced: boolean
}

export interface FakeObject {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    generateName?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    resourceVersion?: string
    uid?: string
    creationTimestamp?: string
    deletionTimestamp?: string
    [k: string]: unknown
  }
  [k: string]: unknown
}

export interface FakeApiServerOptions {
  /** Watch events kept for resuming; a watch from an older resourceVersion gets 410 Gone. */
  compactionWindow?: number
  /** Send BOOKMARK events this often to watches that asked for them (0: never). */
  bookmarkIntervalMs?: number
  /** How an expired resourceVersion is answered on watch: an ERROR event in a 200 stream (as the apiserver does) or HTTP 410. */
  expiredWatchAs?: 'event' | 'http'
  /** Create default, kube-system, kube-public, kube-node-lease at start (as a real cluster has). */
  seedSystemNamespaces?: boolean
  /** Delay between a namespace DELETE (Terminating) and its removal. */
  namespaceFinalizeDelayMs?: number
  /** Extra cluster-scoped kinds served (CRD-like), e.g. Calico GlobalNetworkPolicy. */
  customResources?: Omit<ResourceDef, 'namespaced'>[]
}

/** A request as intercept() sees it. */
export interface InterceptedRequest {
  method: string
  path: string
  query: URLSearchParams
  body: string
  watch: boolean
}

export interface RequestRecord {
  method: string
  path: string
  query: string
  status: number
}

interface Fault {
  remaining: number
  path?: string | RegExp
  method?: string
  status: number
}

interface WatchEvent {
  rv: number
  key: string
  namespace?: string
  type: 'ADDED' | 'MODIFIED' | 'DELETED'
  object: FakeObject
}

/** Requests in flight at once for one (method, path) match; see trackConcurrency(). */
export interface ConcurrencyStats {
  current: number
  peak: number
  total: number
}

interface Tracker {
  method?: string
  path?: string | RegExp
  stats: ConcurrencyStats
}

interface Watcher {
  key: string
  namespace?: string
  res: ServerResponse
  send(ev: WatchEvent): void
  close(): void
}

const BUILTIN: ResourceDef[] = [
  { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false },
  { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true },
  { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true },
  { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', kind: 'Lease', namespaced: true },
]

const keyOf = (group: string, resource: string): string => `${group}/${resource}`
const clone = <T>(v: T): T => structuredClone(v)
const apiVersionOf = (d: ResourceDef): string => (d.group ? `${d.group}/${d.version}` : d.version)
const qualified = (d: ResourceDef): string => (d.group ? `${d.resource}.${d.group}` : d.resource)

export function status(code: number, reason: string, message: string, details?: Record<string, unknown>): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code }
}

export class FakeApiServer {
  readonly defs: ResourceDef[]
  readonly requests: RequestRecord[] = []
  private readonly store = new Map<string, Map<string, FakeObject>>()
  private log: WatchEvent[] = []
  private rv = 1
  private compactedRV = 0
  private watchers = new Set<Watcher>()
  private faults: Fault[] = []
  private delays: { path?: string | RegExp; ms: number }[] = []
  private readonly sockets = new Set<Socket>()
  /** Store keys of each resource in key order, for chunked lists; dropped whenever a key is added or removed. */
  private readonly sortedKeys = new Map<string, string[]>()
  private trackers: Tracker[] = []
  /**
   * Fault injection for what the other faults cannot express (a misbehaving server): sees every request (after its
   * body, before delays and faults) and returns true when it has answered it itself.
   */
  intercept: ((req: InterceptedRequest, res: ServerResponse, api: FakeApiServer) => boolean | Promise<boolean>) | undefined
  /** The next N watch events sent are written as half a JSON line (a corrupted stream), and not sent again. */
  corruptNextEvents = 0
  private server: Server | undefined
  private portNumber = 0
  private readonly opts: Required<Omit<FakeApiServerOptions, 'customResources'>>

  constructor(opts: FakeApiServerOptions = {}) {
    this.opts = {
      compactionWindow: opts.compactionWindow ?? 100_000,
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 0,
      expiredWatchAs: opts.expiredWatchAs ?? 'event',
      seedSystemNamespaces: opts.seedSystemNamespaces ?? true,
      namespaceFinalizeDelayMs: opts.namespaceFinalizeDelayMs ?? 0,
    }
    this.defs = [...BUILTIN, ...(opts.customResources ?? []).map((d) => ({ ...d, namespaced: false }))]
    for (const d of this.defs) this.store.set(keyOf(d.group, d.resource), new Map())
    if (this.opts.seedSystemNamespaces)
      for (const n of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) this.createNamespace(n)
  }

  // ---------------------------------------------------------------- lifecycle

  get port(): number {
    return this.portNumber
  }

  get url(): string {
    return `http://127.0.0.1:${this.portNumber}`
  }

  /** Listens on 127.0.0.1 (a random port the first time, the same port after a restart). */
  async start(): Promise<void> {
    if (this.server) return
    const server = createServer((req, res) => void this.handle(req, res))
    server.on('connection', (s: Socket) => {
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.portNumber, '127.0.0.1', () => resolve())
    })
    this.portNumber = (server.address() as { port: number }).port
    this.server = server
  }

  /** Stops listening and cuts every open connection (the API server going away). */
  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    for (const w of [...this.watchers]) w.close()
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }

  /** Writes a kubeconfig pointing at this server; returns its path. */
  writeKubeconfig(dir: string = mkdtempSync(join(tmpdir(), 'fake-kube-'))): string {
    const file = join(dir, 'kubeconfig')
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: ${this.url}`,
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: tester',
        '  user:',
        '    token: fake-token',
        'contexts:',
        '- name: fake',
        '  context: {cluster: fake, user: tester}',
        'current-context: fake',
        '',
      ].join('\n'),
    )
    return file
  }

  // ---------------------------------------------------------------- faults

  /** The next `count` requests matching (path substring/regexp, method) get `status` (default 500). */
  failNext(count: number, match: { path?: string | RegExp; method?: string; status?: number } = {}): void {
    this.faults.push({ remaining: count, path: match.path, method: match.method, status: match.status ?? 500 })
  }

  clearFaults(): void {
    this.faults = []
    this.delays = []
  }

  /** Delays answers to matching requests by `ms` (0 removes the delay for that pattern). */
  setDelay(ms: number, path?: string | RegExp): void {
    this.delays = this.delays.filter((d) => String(d.path) !== String(path))
    if (ms > 0) this.delays.push({ path, ms })
  }

  /** Cuts every open watch connection without a final event (a network drop). */
  dropWatches(): void {
    for (const w of [...this.watchers]) w.close()
  }

  /** Forgets the watch history: any watch from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRV = this.rv
    this.log = []
  }

  watchCount(key?: string): number {
    return [...this.watchers].filter((w) => !key || w.key === key).length
  }

  get resourceVersion(): number {
    return this.rv
  }

  /**
   * Counts the requests matching (method, path substring/regexp; watches excluded) that are in flight at once,
   * from the request's arrival to the end of its answer. The returned object is updated live.
   */
  trackConcurrency(match: { method?: string; path?: string | RegExp } = {}): ConcurrencyStats {
    const stats: ConcurrencyStats = { current: 0, peak: 0, total: 0 }
    this.trackers.push({ method: match.method, path: match.path, stats })
    return stats
  }

  // ---------------------------------------------------------------- direct access

  def(group: string, resource: string): ResourceDef | undefined {
    return this.defs.find((d) => d.group === group && d.resource === resource)
  }

  list(group: string, resource: string, namespace?: string): FakeObject[] {
    const m = this.store.get(keyOf(group, resource))
    if (!m) return []
    return [...m.values()].filter((o) => !namespace || o.metadata.namespace === namespace).map(clone)
  }

  get(group: string, resource: string, namespace: string | undefined, name: string): FakeObject | undefined {
    const o = this.store.get(keyOf(group, resource))?.get(namespace ? `${namespace}/${name}` : name)
    return o ? clone(o) : undefined
  }

  namespaces(): FakeObject[] {
    return this.list('', 'namespaces')
  }

  policies(namespace?: string): FakeObject[] {
    return this.list('networking.k8s.io', 'networkpolicies', namespace)
  }

  policy(namespace: string, name: string): FakeObject | undefined {
    return this.get('networking.k8s.io', 'networkpolicies', namespace, name)
  }

  events(): FakeObject[] {
    return this.list('', 'events')
  }

  lease(namespace: string, name: string): FakeObject | undefined {
    return this.get('coordination.k8s.io', 'leases', namespace, name)
  }

  createNamespace(name: string, labels: Record<string, string> = {}): FakeObject {
    return this.put(this.def('', 'namespaces')!, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Active' },
    })
  }

  createPolicy(namespace: string, np: Partial<FakeObject> & { metadata: { name: string } }): FakeObject {
    return this.put(this.def('networking.k8s.io', 'networkpolicies')!, {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      ...clone(np),
      metadata: { ...clone(np.metadata), namespace },
    } as FakeObject)
  }

  /**
   * Bulk-loads objects that existed before anyone watched (large test clusters): stored as given (the objects are
   * taken over, not copied), each with a fresh resourceVersion, uid and creationTimestamp when missing, and no
   * watch events; the history before them counts as compacted. Use before clients connect.
   */
  seed(def: ResourceDef, objects: Iterable<FakeObject>): number {
    const m = this.store.get(keyOf(def.group, def.resource))!
    const now = new Date().toISOString()
    let n = 0
    for (const obj of objects) {
      obj.apiVersion ??= apiVersionOf(def)
      obj.kind ??= def.kind
      obj.metadata.uid ??= randomUUID()
      obj.metadata.creationTimestamp ??= now
      obj.metadata.resourceVersion = String(++this.rv)
      m.set(this.storeKey(def, obj.metadata.namespace, obj.metadata.name), obj)
      n++
    }
    this.sortedKeys.delete(keyOf(def.group, def.resource))
    this.compactedRV = this.rv
    this.log = []
    return n
  }

  /** Creates or replaces an object directly (no admission checks), emitting the watch event. */
  put(def: ResourceDef, obj: FakeObject): FakeObject {
    const m = this.store.get(keyOf(def.group, def.resource))!
    const k = this.storeKey(def, obj.metadata.namespace, obj.metadata.name)
    const prev = m.get(k)
    const stored = clone(obj)
    stored.apiVersion ??= apiVersionOf(def)
    stored.kind ??= def.kind
    stored.metadata.uid = prev?.metadata.uid ?? stored.metadata.uid ?? randomUUID()
    stored.metadata.creationTimestamp = prev?.metadata.creationTimestamp ?? stored.metadata.creationTimestamp ?? new Date().toISOString()
    stored.metadata.resourceVersion = String(++this.rv)
    m.set(k, stored)
    if (!prev) this.sortedKeys.delete(keyOf(def.group, def.resource))
    this.emit(def, prev ? 'MODIFIED' : 'ADDED', stored)
    return clone(stored)
  }

  /** Removes an object directly; a namespace goes through Terminating and takes its contents with it. */
  remove(group: string, resource: string, namespace: string | undefined, name: string): boolean {
    const def = this.def(group, resource)
    if (!def) return false
    const m = this.store.get(keyOf(group, resource))!
    const k = this.storeKey(def, namespace, name)
    const prev = m.get(k)
    if (!prev) return false
    if (group === '' && resource === 'namespaces') {
      this.terminateNamespace(prev)
      return true
    }
    m.delete(k)
    this.sortedKeys.delete(keyOf(group, resource))
    prev.metadata.resourceVersion = String(++this.rv)
    this.emit(def, 'DELETED', prev)
    return true
  }

  deleteNamespace(name: string): boolean {
    return this.remove('', 'namespaces', undefined, name)
  }

  // ---------------------------------------------------------------- internals

  private storeKey(def: ResourceDef, namespace: string | undefined, name: string): string {
    return def.namespaced ? `${namespace}/${name}` : name
  }

  private terminateNamespace(ns: FakeObject): void {
    const def = this.def('', 'namespaces')!
    if (!ns.metadata.deletionTimestamp) {
      this.put(def, { ...ns, metadata: { ...ns.metadata, deletionTimestamp: new Date().toISOString() }, status: { phase: 'Terminating' } })
    }
    const finalize = (): void => {
      const name = ns.metadata.name
      for (const d of this.defs.filter((x) => x.namespaced)) {
        for (const o of this.list(d.group, d.resource, name)) this.remove(d.group, d.resource, name, o.metadata.name)
      }
      const m = this.store.get(keyOf('', 'namespaces'))!
      const cur = m.get(name)
      if (!cur) return
      m.delete(name)
      this.sortedKeys.delete(keyOf('', 'namespaces'))
      cur.metadata.resourceVersion = String(++this.rv)
      this.emit(def, 'DELETED', cur)
    }
    if (this.opts.namespaceFinalizeDelayMs > 0) setTimeout(finalize, this.opts.namespaceFinalizeDelayMs).unref()
    else finalize()
  }

  private emit(def: ResourceDef, type: WatchEvent['type'], obj: FakeObject): void {
    const ev: WatchEvent = { rv: this.rv, key: keyOf(def.group, def.resource), namespace: obj.metadata.namespace, type, object: clone(obj) }
    this.log.push(ev)
    if (this.log.length > this.opts.compactionWindow) {
      const dropped = this.log.splice(0, this.log.length - this.opts.compactionWindow)
      this.compactedRV = dropped[dropped.length - 1].rv
    }
    for (const w of this.watchers) if (w.key === ev.key && (!w.namespace || w.namespace === ev.namespace)) w.send(ev)
  }

  private matches(pattern: string | RegExp | undefined, path: string): boolean {
    if (pattern === undefined) return true
    return typeof pattern === 'string' ? path.includes(pattern) : pattern.test(path)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const method = req.method ?? 'GET'
    const record: RequestRecord = { method, path: url.pathname, query: url.search, status: 0 }
    this.requests.push(record)
    const watching = url.searchParams.get('watch')
    if (this.trackers.length > 0 && watching !== 'true' && watching !== '1') {
      const hits = this.trackers.filter((tr) => (!tr.method || tr.method === method) && this.matches(tr.path, url.pathname + url.search))
      for (const { stats } of hits) {
        stats.total++
        stats.peak = Math.max(stats.peak, ++stats.current)
      }
      if (hits.length > 0) res.once('close', () => {
        for (const { stats } of hits) stats.current--
      })
    }
    const send = (code: number, body: unknown): void => {
      record.status = code
      if (res.destroyed) return
      res.writeHead(code, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    const body = await readBody(req)
    if (this.intercept) {
      const wq = url.searchParams.get('watch')
      if (await this.intercept({ method, path: url.pathname, query: url.searchParams, body, watch: wq === 'true' || wq === '1' }, res, this)) {
        record.status = res.statusCode
        return
      }
    }
    const delay = this.delays.find((d) => this.matches(d.path, url.pathname + url.search))
    if (delay) await new Promise((r) => setTimeout(r, delay.ms))
    const fault = this.faults.find((f) => f.remaining > 0 && this.matches(f.path, url.pathname + url.search) && (!f.method || f.method === method))
    if (fault) {
      fault.remaining--
      send(fault.status, status(fault.status, fault.status === 500 ? 'InternalError' : 'ServiceUnavailable', 'injected fault'))
      return
    }
    try {
      this.route(method, url, body, send, res, record)
    } catch (e) {
      send(500, status(500, 'InternalError', `fake apiserver: ${(e as Error).message}`))
    }
  }

  private route(method: string, url: URL, body: string, send: (code: number, body: unknown) => void, res: ServerResponse, record: RequestRecord): void {
    const parts = url.pathname.split('/').filter(Boolean)
    // discovery
    if (url.pathname === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] })
    if (url.pathname === '/apis') return send(200, this.groupList())
    if (parts[0] === 'api' && parts.length === 2 && parts[1] === 'v1') return send(200, this.resourceList('', 'v1'))
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = this.groupList().groups.find((x) => x.name === parts[1])
      return g ? send(200, { kind: 'APIGroup', apiVersion: 'v1', ...g }) : send(404, status(404, 'NotFound', 'the server could not find the requested resource'))
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const list = this.resourceList(parts[1], parts[2])
      return list.resources.length ? send(200, list) : send(404, status(404, 'NotFound', 'the server could not find the requested resource'))
    }
    let group: string
    let version: string
    let rest: string[]
    if (parts[0] === 'api' && parts[1] === 'v1') {
      group = ''
      version = 'v1'
      rest = parts.slice(2)
    } else if (parts[0] === 'apis' && parts.length >= 4) {
      group = parts[1]
      version = parts[2]
      rest = parts.slice(3)
    } else return send(404, status(404, 'NotFound', 'the server could not find the requested resource'))
    let namespace: string | undefined
    let resource: string
    let name: string | undefined
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]
      resource = rest[2]
      name = rest[3]
    } else {
      resource = rest[0]
      name = rest[1]
    }
    const def = this.defs.find((d) => d.group === group && d.version === version && d.resource === resource)
    if (!def || (namespace && !def.namespaced) || rest.length > (namespace ? 4 : 2))
      return send(404, status(404, 'NotFound', 'the server could not find the requested resource'))
    const notFound = (n: string): void => send(404, status(404, 'NotFound', `${qualified(def)} "${n}" not found`, { name: n, group: def.group, kind: def.resource }))

    if (method === 'GET' && !name) {
      const watch = url.searchParams.get('watch')
      if (watch === 'true' || watch === '1') return this.serveWatch(def, namespace, url, res, record)
      if (url.searchParams.has('continue') || Number(url.searchParams.get('limit')) > 0) return this.servePage(def, namespace, url, send)
      const items = this.list(def.group, def.resource, namespace)
      items.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      return send(200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(this.rv) }, items })
    }
    if (method === 'GET' && name) {
      const o = this.get(def.group, def.resource, namespace, name)
      return o ? send(200, o) : notFound(name)
    }
    if (method === 'POST' && !name) {
      let obj: FakeObject
      try {
        obj = JSON.parse(body) as FakeObject
      } catch {
        return send(400, status(400, 'BadRequest', 'the body of the request was in an unknown format'))
      }
      obj.metadata ??= { name: '' }
      if (!obj.metadata.name && obj.metadata.generateName) obj.metadata.name = obj.metadata.generateName + Math.random().toString(36).slice(2, 7)
      if (!obj.metadata.name) return send(422, status(422, 'Invalid', `${def.kind} "" is invalid: metadata.name: Required value: name or generateName is required`))
      if (def.namespaced) {
        if (obj.metadata.namespace && obj.metadata.namespace !== namespace)
          return send(400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'))
        obj.metadata.namespace = namespace
        const ns = this.get('', 'namespaces', undefined, namespace!)
        if (!ns) return send(404, status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' }))
        if (ns.metadata.deletionTimestamp)
          return send(403, status(403, 'Forbidden', `${qualified(def)} "${obj.metadata.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`))
      }
      if (this.get(def.group, def.resource, namespace, obj.metadata.name))
        return send(409, status(409, 'AlreadyExists', `${qualified(def)} "${obj.metadata.name}" already exists`, { name: obj.metadata.name, group: def.group, kind: def.resource }))
      if (url.searchParams.get('dryRun') === 'All') return send(201, obj)
      delete obj.metadata.resourceVersion
      if (def.resource === 'namespaces') {
        obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name }
        obj.status = { phase: 'Active' }
      }
      return send(201, this.put(def, obj))
    }
    if (method === 'PUT' && name) {
      let obj: FakeObject
      try {
        obj = JSON.parse(body) as FakeObject
      } catch {
        return send(400, status(400, 'BadRequest', 'the body of the request was in an unknown format'))
      }
      const cur = this.get(def.group, def.resource, namespace, name)
      if (!cur) return notFound(name)
      if (obj.metadata?.name !== name) return send(400, status(400, 'BadRequest', 'the name of the object does not match the name on the URL'))
      const want = obj.metadata.resourceVersion
      if (want !== undefined && want !== '' && want !== cur.metadata.resourceVersion)
        return send(409, status(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(def)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: def.group, kind: def.resource }))
      obj.metadata.namespace = namespace
      return send(200, this.put(def, obj))
    }
    if (method === 'DELETE' && name) {
      const cur = this.get(def.group, def.resource, namespace, name)
      if (!cur) return notFound(name)
      this.remove(def.group, def.resource, namespace, name)
      return send(200, def.resource === 'namespaces' ? this.get('', 'namespaces', undefined, name) ?? cur : cur)
    }
    send(405, status(405, 'MethodNotAllowed', `${method} is not supported on this path`))
  }

  /** One chunk of a list (limit / continue), in key order, as kube-apiserver serves it from etcd. */
  private servePage(def: ResourceDef, namespace: string | undefined, url: URL, send: (code: number, body: unknown) => void): void {
    const limitParam = Number(url.searchParams.get('limit'))
    const limit = Number.isFinite(limitParam) && limitParam > 0 ? Math.floor(limitParam) : Infinity
    const token = url.searchParams.get('continue')
    let snapshotRV = this.rv
    let after = ''
    if (token) {
      let decoded: { v?: unknown; rv?: unknown; start?: unknown }
      try {
        decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as typeof decoded
      } catch {
        decoded = {}
      }
      if (decoded.v !== 'meta.k8s.io/v1' || typeof decoded.rv !== 'number' || typeof decoded.start !== 'string')
        return send(400, status(400, 'BadRequest', `continue key is not valid: ${token}`))
      if (decoded.rv < this.compactedRV)
        return send(410, status(410, 'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'))
      snapshotRV = decoded.rv
      after = decoded.start
    }
    const key = keyOf(def.group, def.resource)
    const m = this.store.get(key)!
    let keys = this.sortedKeys.get(key)
    if (!keys) this.sortedKeys.set(key, (keys = [...m.keys()].sort()))
    const prefix = namespace && def.namespaced ? `${namespace}/` : ''
    const from = after || prefix
    // first key > after (continuing) or >= prefix (first page)
    let lo = 0
    let hi = keys.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (after ? keys[mid] <= from : keys[mid] < from) lo = mid + 1
      else hi = mid
    }
    const items: FakeObject[] = []
    let i = lo
    let last = ''
    for (; i < keys.length && items.length < limit; i++) {
      if (prefix && !keys[i].startsWith(prefix)) break
      const o = m.get(keys[i])
      if (!o) continue
      // No copy: send() serializes the page at once. Copying each object first was most of the fake's work when a
      // guard listed 100,000 NetworkPolicies (bench:scale), and the guard's ready time included it.
      items.push(o)
      last = keys[i]
    }
    let remaining = prefix ? 0 : keys.length - i
    if (prefix) for (let j = i; j < keys.length && keys[j].startsWith(prefix); j++) remaining++
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshotRV) }
    if (remaining > 0) {
      metadata.continue = Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: snapshotRV, start: last })).toString('base64')
      metadata.remainingItemCount = remaining
    }
    send(200, { kind: `${def.kind}List`, apiVersion: apiVersionOf(def), metadata, items })
  }

  private serveWatch(def: ResourceDef, namespace: string | undefined, url: URL, res: ServerResponse, record: RequestRecord): void {
    const key = keyOf(def.group, def.resource)
    const fromParam = url.searchParams.get('resourceVersion')
    const from = fromParam === null || fromParam === '' || fromParam === '0' ? undefined : Number(fromParam)
    if (from !== undefined && (!Number.isFinite(from) || from < this.compactedRV)) {
      const st = status(410, 'Expired', `too old resource version: ${fromParam} (${this.compactedRV})`)
      if (this.opts.expiredWatchAs === 'http') {
        record.status = 410
        res.writeHead(410, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify(st))
        return
      }
      record.status = 200
      res.writeHead(200, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ type: 'ERROR', object: st }) + '\n')
      return
    }
    record.status = 200
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })
    res.flushHeaders()
    const write = (type: string, object: unknown): void => {
      if (!res.destroyed && !res.writableEnded) res.write(JSON.stringify({ type, object }) + '\n')
    }
    const timers: NodeJS.Timeout[] = []
    const watcher: Watcher = {
      key,
      namespace,
      res,
      send: (ev) => {
        if (this.corruptNextEvents > 0) {
          this.corruptNextEvents--
          const line = JSON.stringify({ type: ev.type, object: ev.object })
          if (!res.destroyed && !res.writableEnded) res.write(line.slice(0, Math.floor(line.length / 2)) + '\n')
          return
        }
        write(ev.type, ev.object)
      },
      close: () => {
        this.watchers.delete(watcher)
        for (const t of timers) clearTimeout(t)
        res.destroy()
      },
    }
    if (from === undefined) {
      for (const o of this.list(def.group, def.resource, namespace)) write('ADDED', o)
    } else {
      for (const ev of this.log) if (ev.rv > from && ev.key === key && (!namespace || ev.namespace === namespace)) write(ev.type, ev.object)
    }
    this.watchers.add(watcher)
    const end = (): void => {
      this.watchers.delete(watcher)
      for (const t of timers) clearTimeout(t)
      if (!res.writableEnded) res.end()
    }
    res.on('close', () => {
      this.watchers.delete(watcher)
      for (const t of timers) clearTimeout(t)
    })
    const timeout = Number(url.searchParams.get('timeoutSeconds'))
    if (timeout > 0) timers.push(setTimeout(end, timeout * 1000))
    if (this.opts.bookmarkIntervalMs > 0 && url.searchParams.get('allowWatchBookmarks') === 'true') {
      const tick = (): void => {
        write('BOOKMARK', { kind: def.kind, apiVersion: apiVersionOf(def), metadata: { resourceVersion: String(this.rv) } })
        timers.push(setTimeout(tick, this.opts.bookmarkIntervalMs))
      }
      timers.push(setTimeout(tick, this.opts.bookmarkIntervalMs))
    }
  }

  private groupList(): { kind: string; apiVersion: string; groups: { name: string; versions: { groupVersion: string; version: string }[]; preferredVersion: { groupVersion: string; version: string } }[] } {
    const groups = new Map<string, Set<string>>()
    for (const d of this.defs) if (d.group) (groups.get(d.group) ?? groups.set(d.group, new Set()).get(d.group)!).add(d.version)
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: [...groups].map(([name, versions]) => {
        const vs = [...versions].map((v) => ({ groupVersion: `${name}/${v}`, version: v }))
        return { name, versions: vs, preferredVersion: vs[0] }
      }),
    }
  }

  private resourceList(group: string, version: string): { kind: string; apiVersion: string; groupVersion: string; resources: unknown[] } {
    return {
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: group ? `${group}/${version}` : version,
      resources: this.defs
        .filter((d) => d.group === group && d.version === version)
        .map((d) => ({ name: d.resource, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: ['create', 'delete', 'get', 'list', 'update', 'watch'] })),
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', () => resolve(''))
  })
}

/** Polls `cond` until it holds or `timeoutMs` passes; resolves to whether it held. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, intervalMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return true
    if (Date.now() > deadline) return false
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}
