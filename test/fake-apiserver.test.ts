// The fake API server behaves like kube-apiserver where the guard depends on it.
import t from 'tap'
import { FakeApiServer, waitFor } from './fake-apiserver.js'

async function json(res: Response): Promise<any> {
  return JSON.parse(await res.text())
}

/** Reads a watch stream's events until `n` arrived or the stream ends. */
async function readWatch(url: string, n: number): Promise<any[]> {
  const ac = new AbortController()
  const res = await fetch(url, { signal: ac.signal })
  const events: any[] = []
  const reader = res.body!.getReader()
  let buf = ''
  try {
    while (events.length < n) {
      const { value, done } = await reader.read()
      if (done) break
      buf += Buffer.from(value).toString('utf8')
      let i: number
      while ((i = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, i)))
        buf = buf.slice(i + 1)
      }
    }
  } finally {
    ac.abort()
  }
  return events
}

t.test('REST semantics: list, get, create, 404, 409, delete lifecycle', async (t) => {
  const api = new FakeApiServer({ namespaceFinalizeDelayMs: 50 })
  await api.start()
  t.teardown(() => api.stop())
  const base = api.url
  const list = await json(await fetch(`${base}/api/v1/namespaces`))
  t.equal(list.kind, 'NamespaceList')
  t.same(list.items.map((n: any) => n.metadata.name).sort(), ['default', 'kube-node-lease', 'kube-public', 'kube-system'])
  t.equal(list.metadata.resourceVersion, String(api.resourceVersion))

  const np = { metadata: { name: 'deny-all' }, spec: { podSelector: {} } }
  const missing = await fetch(`${base}/apis/networking.k8s.io/v1/namespaces/nope/networkpolicies`, { method: 'POST', body: JSON.stringify(np) })
  t.equal(missing.status, 404)
  t.match(await json(missing), { kind: 'Status', reason: 'NotFound', code: 404, message: 'namespaces "nope" not found' })

  api.createNamespace('team-a')
  const created = await fetch(`${base}/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies`, { method: 'POST', body: JSON.stringify(np) })
  t.equal(created.status, 201)
  const again = await fetch(`${base}/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies`, { method: 'POST', body: JSON.stringify(np) })
  t.equal(again.status, 409)
  t.match(await json(again), { reason: 'AlreadyExists' })
  const got = await json(await fetch(`${base}/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies/deny-all`))
  t.equal(got.metadata.namespace, 'team-a')
  t.ok(Number(got.metadata.resourceVersion) > 0)
  t.equal((await fetch(`${base}/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies/other`)).status, 404)

  const del = await fetch(`${base}/api/v1/namespaces/team-a`, { method: 'DELETE' })
  t.equal(del.status, 200)
  t.equal(api.get('', 'namespaces', undefined, 'team-a')?.status && (api.get('', 'namespaces', undefined, 'team-a')!.status as any).phase, 'Terminating')
  const forbidden = await fetch(`${base}/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies`, { method: 'POST', body: JSON.stringify({ metadata: { name: 'x' } }) })
  t.equal(forbidden.status, 403)
  t.ok(await waitFor(() => api.get('', 'namespaces', undefined, 'team-a') === undefined, 2000), 'namespace finalized')
  t.equal(api.policies('team-a').length, 0, 'contents removed with the namespace')
})

t.test('lease update with a stale resourceVersion is a 409 Conflict', async (t) => {
  const api = new FakeApiServer()
  await api.start()
  t.teardown(() => api.stop())
  api.createNamespace('guard')
  const url = `${api.url}/apis/coordination.k8s.io/v1/namespaces/guard/leases`
  const c = await json(await fetch(url, { method: 'POST', body: JSON.stringify({ metadata: { name: 'l' }, spec: { holderIdentity: 'a' } }) }))
  const ok = await fetch(`${url}/l`, { method: 'PUT', body: JSON.stringify({ ...c, spec: { holderIdentity: 'b' } }) })
  t.equal(ok.status, 200)
  const stale = await fetch(`${url}/l`, { method: 'PUT', body: JSON.stringify({ ...c, spec: { holderIdentity: 'c' } }) })
  t.equal(stale.status, 409)
  t.match(await json(stale), { reason: 'Conflict' })
  t.equal((api.lease('guard', 'l')!.spec as any).holderIdentity, 'b')
})

t.test('watch: replay after a resourceVersion, 410 when compacted, bookmarks, timeout', async (t) => {
  const api = new FakeApiServer({ bookmarkIntervalMs: 30 })
  await api.start()
  t.teardown(() => api.stop())
  const rv = api.resourceVersion
  api.createNamespace('a')
  api.createNamespace('b')
  const evs = await readWatch(`${api.url}/api/v1/namespaces?watch=1&resourceVersion=${rv}`, 2)
  t.same(evs.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'a'], ['ADDED', 'b']])

  const initial = await readWatch(`${api.url}/api/v1/namespaces?watch=true`, 6)
  t.equal(initial.length, 6, 'watch without resourceVersion starts with the current objects')

  const bm = await readWatch(`${api.url}/api/v1/namespaces?watch=1&resourceVersion=${api.resourceVersion}&allowWatchBookmarks=true`, 1)
  t.equal(bm[0].type, 'BOOKMARK')
  t.equal(bm[0].object.metadata.resourceVersion, String(api.resourceVersion))

  api.compact()
  const gone = await readWatch(`${api.url}/api/v1/namespaces?watch=1&resourceVersion=${rv}`, 1)
  t.match(gone[0], { type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })

  const t0 = Date.now()
  const res = await fetch(`${api.url}/api/v1/namespaces?watch=1&resourceVersion=${api.resourceVersion}&timeoutSeconds=1`)
  await res.text()
  t.ok(Date.now() - t0 >= 900, 'server closes the watch after timeoutSeconds')
})

t.test('faults: 500s, delays, dropped watches, stop and restart', async (t) => {
  const api = new FakeApiServer()
  await api.start()
  t.teardown(() => api.stop())
  api.failNext(2, { path: '/api/v1/namespaces' })
  t.equal((await fetch(`${api.url}/api/v1/namespaces`)).status, 500)
  t.equal((await fetch(`${api.url}/api/v1/namespaces`)).status, 500)
  t.equal((await fetch(`${api.url}/api/v1/namespaces`)).status, 200)

  api.setDelay(200, '/api/v1/namespaces/default')
  const t0 = Date.now()
  await fetch(`${api.url}/api/v1/namespaces/default`)
  t.ok(Date.now() - t0 >= 190, 'answer delayed')
  api.setDelay(0, '/api/v1/namespaces/default')

  const res = await fetch(`${api.url}/api/v1/namespaces?watch=1&resourceVersion=${api.resourceVersion}`)
  t.ok(await waitFor(() => api.watchCount() === 1))
  api.dropWatches()
  await t.rejects(res.text(), 'the client sees the connection cut')

  const port = api.port
  await api.stop()
  await t.rejects(fetch(`${api.url}/api`))
  await api.start()
  t.equal(api.port, port, 'restarts on the same port')
  t.equal((await fetch(`${api.url}/api`)).status, 200)
})

t.test('discovery lists built-in and custom groups', async (t) => {
  const api = new FakeApiServer({ customResources: [{ group: 'cilium.io', version: 'v2', resource: 'ciliumclusterwidenetworkpolicies', kind: 'CiliumClusterwideNetworkPolicy' }] })
  await api.start()
  t.teardown(() => api.stop())
  const groups = await json(await fetch(`${api.url}/apis`))
  t.ok(groups.groups.some((g: any) => g.name === 'cilium.io' && g.preferredVersion.version === 'v2'))
  const rl = await json(await fetch(`${api.url}/apis/cilium.io/v2`))
  t.same(rl.resources.map((r: any) => r.name), ['ciliumclusterwidenetworkpolicies'])
  t.equal((await fetch(`${api.url}/apis/cilium.io/v1`)).status, 404)
  const l = await json(await fetch(`${api.url}/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies`))
  t.equal(l.kind, 'CiliumClusterwideNetworkPolicyList')
})
