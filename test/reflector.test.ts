// The list+watch loop with a list and a watch of the test's own: the paths no API server takes readily.
import t, { type Test } from 'tap'
import pino from 'pino'
import { ResponseTooLargeError } from '../src/live/kube-http.js'
import type { Watcher } from '../src/live/kube-watch.js'
import { Reflector, type ListRequest, type ReflectorOptions } from '../src/live/reflector.js'
import { waitFor } from './fake-apiserver.js'

/** A watch that opens and stays silent until it is aborted. */
const silentWatch: Watcher = { watch: async () => ({ abort: () => undefined }) }

/** A started reflector of namespace names over the test's list (and watch), stopped when the test ends. */
function started(t: Test, opts: Pick<ReflectorOptions<string>, 'list'> & Partial<ReflectorOptions<string>>): Reflector<string> {
  const reflector = new Reflector<string>({
    resource: 'namespaces',
    watchPath: '/api/v1/namespaces',
    watch: silentWatch,
    logger: pino({ level: 'silent' }),
    backoffInitialMs: 10,
    backoffMaxMs: 20,
    replace: () => undefined,
    apply: () => undefined,
    ...opts,
  })
  reflector.start()
  t.teardown(() => reflector.stop())
  return reflector
}

t.test('a list page too large to read: the list again from the top in half-size pages, down to what fits', async (t) => {
  const names = Array.from({ length: 10 }, (_, i) => `ns-${i}`)
  const asked: ListRequest[] = []
  let replaced: string[] | undefined
  const reflector = started(t, {
    pageSize: 8,
    list: async (req) => {
      asked.push(req)
      // pages of more than 2 objects are "too large"
      if ((req.limit ?? Infinity) > 2) throw new ResponseTooLargeError('a page of /api/v1/namespaces', 100)
      const from = req.continue ? Number(req.continue) : 0
      const to = Math.min(names.length, from + req.limit!)
      return { items: names.slice(from, to), resourceVersion: '42', ...(to < names.length ? { continue: String(to) } : {}) }
    },
    replace: (items) => (replaced = items),
  })
  t.ok(await waitFor(() => reflector.hasSynced(), 3000))
  t.same(replaced, names, 'every object, once, in order')
  t.same(asked.slice(0, 3).map((r) => r.limit), [8, 4, 2], 'halved until a page fits')
  t.ok(asked.slice(2).every((r) => r.limit === 2), 'then the whole list in pages of 2')
  t.equal(asked.filter((r) => r.continue === undefined).length, 3, 'each smaller size starts from the top')
})

t.test('a single object too large to read: the list fails (and is retried), it is not skipped', async (t) => {
  let calls = 0
  const reflector = started(t, {
    pageSize: 2,
    list: async () => {
      calls++
      throw new ResponseTooLargeError('a page of /api/v1/namespaces', 100)
    },
  })
  t.ok(await waitFor(() => calls >= 4, 3000), 'retried')
  t.notOk(reflector.hasSynced())
})

t.test('a list refused with 429 and Retry-After waits as long as asked', async (t) => {
  const at: number[] = []
  const reflector = started(t, {
    list: async () => {
      at.push(Date.now())
      if (at.length === 1) throw Object.assign(new Error('HTTP 429'), { code: 429, headers: { 'retry-after': '1' } })
      return { items: [], resourceVersion: '1' }
    },
  })
  t.ok(await waitFor(() => reflector.hasSynced(), 3000))
  t.ok(at[1]! - at[0]! >= 990, `the second list came ${at[1]! - at[0]!} ms after the 429 (Retry-After: 1)`)
})

t.test('a watch ERROR 429 watches again once the server says, without a relist; another ERROR relists', async (t) => {
  const watchesAt: number[] = []
  let lists = 0
  const answers = [
    { type: 'ERROR', object: { kind: 'Status', code: 429, message: 'too many requests', details: { retryAfterSeconds: 1 } } },
    { type: 'ERROR', object: { kind: 'Status', code: 500, message: 'etcd went away' } },
  ]
  const watcher: Watcher = {
    watch: async (_path, _query, onEvent) => {
      watchesAt.push(Date.now())
      const answer = answers.shift()
      if (answer) setImmediate(() => onEvent(answer.type, answer.object))
      return { abort: () => undefined }
    },
  }
  const reflector = started(t, {
    watch: watcher,
    list: async () => (lists++, { items: [], resourceVersion: '1' }),
  })
  t.ok(await waitFor(() => watchesAt.length >= 3, 5000))
  t.ok(watchesAt[1]! - watchesAt[0]! >= 990, `watched again ${watchesAt[1]! - watchesAt[0]!} ms after the 429 (retryAfterSeconds: 1)`)
  t.equal(lists, 2, 'one list at the start, one after the 500, none after the 429')
})
