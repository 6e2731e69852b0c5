// Large bodies are parsed first in a child process with a heap of its own (parse-check.ts): one whose parse does not fit
// is refused, and the child that ran out of memory is replaced, never the server.
import t from 'tap'
import { BodyBudget } from '../src/server/body-reader.js'
import { example, testServer } from './helpers/server.js'
import { MAX_WAITING, ParseCheck, ParseQueueFullError, ParseTooCostlyError, ParseUnavailableError } from '../src/server/parse-check.js'

function check(pc: ParseCheck, text: string, abandoned?: () => boolean): Promise<Error | null> {
  return new Promise((resolve) => pc.check(text, resolve, abandoned))
}

// ~300 bytes of heap per 9 bytes of text: V8 gives each object a backing store for the indexes up to its key.
const smallIndexKeys = (bytes: number) => '[' + '{"34":0},'.repeat(Math.floor(bytes / 9)) + '0]'

t.test('a body that parses within the bound passes; one that does not is refused; JSON errors keep their message', async (t) => {
  const pc = new ParseCheck(16)
  t.teardown(() => pc.close())
  t.equal(await check(pc, JSON.stringify({ kind: 'Pod', data: 'x'.repeat(2 * 1024 * 1024) })), null, '2 MiB of string: a few MiB of heap')
  const costly = await check(pc, smallIndexKeys(2 * 1024 * 1024))
  t.type(costly, ParseTooCostlyError)
  t.match(costly, { statusCode: 413, message: /^request body takes more than 16 MiB of memory to parse/ })
  const syntax = await check(pc, '{"a":[1,2')
  t.type(syntax, SyntaxError)
  t.equal(syntax!.message, (() => { try { JSON.parse('{"a":[1,2') } catch (e) { return (e as Error).message } })())
  t.equal(await check(pc, '{"after":"the worker ran out of memory"}'), null, 'a new child takes the next body')
})

t.test('bodies are checked one at a time, in order, and each gets its own answer', async (t) => {
  const pc = new ParseCheck(16)
  t.teardown(() => pc.close())
  const order: string[] = []
  const run = (name: string, text: string) => check(pc, text).then((e) => (order.push(name), e))
  const answers = await Promise.all([run('a', '{"a":1}'), run('costly', smallIndexKeys(2 * 1024 * 1024)), run('b', '[1'), run('c', '{"c":3}')])
  t.equal(MAX_WAITING, 4, 'three waited behind the first')
  t.same(order, ['a', 'costly', 'b', 'c'])
  t.equal(answers[0], null)
  t.type(answers[1], ParseTooCostlyError)
  t.type(answers[2], SyntaxError)
  t.equal(answers[3], null)
  t.equal(pc.pending, 0)
})

t.test('close: the body being parsed and those waiting are answered with an error, later ones at once', async (t) => {
  const pc = new ParseCheck(16)
  const running = check(pc, JSON.stringify({ x: 'y'.repeat(1024 * 1024) }))
  const waiting = check(pc, '{}')
  await pc.close()
  t.match(await running, { message: 'server is closing' })
  t.match(await waiting, { message: 'server is closing' })
  t.match(await check(pc, '{}'), { message: 'server is closing' })
  t.equal(pc.pending, 0)
})

t.test('more than MAX_WAITING bodies waiting: the next is refused at once with a 429', async (t) => {
  const pc = new ParseCheck(16)
  t.teardown(() => pc.close())
  const all = Array.from({ length: MAX_WAITING + 2 }, (_, i) => check(pc, `{"n":${i}}`))
  const answers = await Promise.all(all)
  t.same(answers.slice(0, MAX_WAITING + 1), Array(MAX_WAITING + 1).fill(null), 'the one parsed and those waiting')
  t.type(answers[MAX_WAITING + 1], ParseQueueFullError)
  t.match(answers[MAX_WAITING + 1], { statusCode: 429, message: /^too many large request bodies waiting to be parsed/ })
})

t.test('a body whose client has gone is dropped before a child is started for it', async (t) => {
  const pc = new ParseCheck(16)
  t.teardown(() => pc.close())
  let asked = 0
  const first = check(pc, '{"first":1}')
  const gone = check(pc, '{"gone":1}', () => (asked++, true))
  const last = check(pc, '{"last":1}', () => false)
  t.equal(await first, null)
  t.match(await gone, { statusCode: 503, message: 'client gone before its body was parsed' })
  t.equal(await last, null)
  t.equal(asked, 1)
})

t.test('a child that does not answer in time is killed: 503, and the next body is parsed', async (t) => {
  const pc = new ParseCheck(16, 1)
  t.teardown(() => pc.close())
  const late = await check(pc, JSON.stringify({ x: 'y'.repeat(2 * 1024 * 1024) }))
  t.type(late, ParseUnavailableError)
  t.match(late, { statusCode: 503, message: /gave no answer within 1 ms/ })
  t.equal(pc.pending, 0)
})

t.test('a child that cannot be started: 503 for its body, and the queue goes on', async (t) => {
  const pc = new ParseCheck(16)
  t.teardown(() => pc.close())
  const execPath = process.execPath
  process.execPath = '/nonexistent/node'
  t.teardown(() => void (process.execPath = execPath))
  const answers = await Promise.all([check(pc, '{}'), check(pc, '[]')])
  for (const a of answers) t.match(a, { statusCode: 503, message: /^JSON parse process failed: spawn \/nonexistent\/node ENOENT/ })
  process.execPath = execPath
  t.equal(await check(pc, '{}'), null)
})

t.test('over HTTP: a full queue is a 429 with Retry-After, trouble of the server itself a 503; the budget comes back', async (t) => {
  const review = example('pod-create-team-a.json')
  const large = JSON.stringify({ ...review, request: { ...review.request, object: { ...review.request.object, spec: { padding: 'x'.repeat(1024 * 1024) } } } })
  for (const [err, status, message] of [
    [new ParseQueueFullError(), 429, /^too many large request bodies waiting to be parsed/],
    [new ParseUnavailableError('server is closing'), 503, /^server is closing; retry shortly$/],
  ] as const) {
    const budget = new BodyBudget()
    // A ParseCheck that answers with the error, as the real one does when it applies.
    const stub = { check: (_text: string, done: (e: Error | null) => void) => process.nextTick(done, err) } as unknown as ParseCheck
    const { app } = await testServer({ parseCheck: stub, bodyBudget: budget })
    t.teardown(() => app.close())
    const res = await app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: large })
    t.equal(res.statusCode, status)
    t.match(res.json(), { statusCode: status, error: message })
    t.equal(res.headers['retry-after'], '1')
    t.equal(budget.held, 0, 'the bytes of the body are given back')
  }
  // The real one, for a body that fits: the review is answered, and the budget is back to 0.
  const budget = new BodyBudget()
  const { app } = await testServer({ bodyBudget: budget })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: large })
  t.equal(res.statusCode, 200)
  t.equal(res.json().response.allowed, true)
  t.equal(budget.held, 0)
})
