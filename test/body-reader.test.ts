// readBody: Fastify's body limits, and the budget for large bodies held at once over all requests.
import t from 'tap'
import { PassThrough } from 'node:stream'
import { BodyBudget, BodyBudgetError, readBody, SMALL_BODY_BYTES } from '../src/server/body-reader.js'

interface Outcome {
  err: (Error & { statusCode?: number; code?: string }) | null
  text?: string
}

/** Starts a read of a stream fed by the test; `result` settles when readBody calls done. */
function reading(contentLength: number, budget: BodyBudget, bodyLimit = 1024 * 1024) {
  const stream = new PassThrough()
  let calls = 0
  const result = new Promise<Outcome>((resolve) =>
    readBody(stream, contentLength, bodyLimit, budget, (err, text) => {
      calls++
      resolve({ err, ...(text !== undefined ? { text } : {}) })
    }),
  )
  return { stream, result, calls: () => calls }
}

t.test('a body is read whole and decoded once: a character split across chunks stays whole', async (t) => {
  const budget = new BodyBudget(1024)
  const euro = Buffer.from('{"a":"€"}')
  const r = reading(euro.length, budget)
  r.stream.write(euro.subarray(0, 7)) // inside the three bytes of €
  r.stream.end(euro.subarray(7))
  t.same(await r.result, { err: null, text: '{"a":"€"}' })
  t.equal(budget.held, 0, 'given back')
  await new Promise((r) => setImmediate(r))
  t.equal(r.calls(), 1, 'done called once (end, then close)')
})

t.test('a body sent in many small pieces is put together whole, announced or chunked', async (t) => {
  // One byte at a time (TLS records and HTTP chunks may be that small): joined into one buffer, not kept as 40,000
  // chunks of ~600 bytes of overhead each.
  const text = JSON.stringify({ name: 'café-名前', pad: 'x'.repeat(40_000) })
  const bytes = Buffer.from(text)
  for (const contentLength of [bytes.length, NaN]) {
    const budget = new BodyBudget()
    const r = reading(contentLength, budget)
    for (let i = 0; i < bytes.length; i++) r.stream.write(bytes.subarray(i, i + 1))
    r.stream.end()
    t.same(await r.result, { err: null, text }, Number.isNaN(contentLength) ? 'chunked' : 'announced')
    t.equal(budget.held, 0)
  }
  // Uneven pieces across the growth of the buffer (chunked: doubled from 16 KiB).
  const big = Buffer.from('y'.repeat(100_000))
  const r = reading(NaN, new BodyBudget())
  for (let at = 0; at < big.length; at += 7_777) r.stream.write(big.subarray(at, at + 7_777))
  r.stream.end()
  t.equal((await r.result).text, big.toString())
})

t.test('bytes that are not UTF-8 are refused; U+FFFD written in UTF-8 is text', async (t) => {
  const budget = new BodyBudget()
  const bad = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]) // {"a":"\xff\xfe"}
  const r = reading(bad.length, budget)
  r.stream.end(bad)
  t.match((await r.result).err, { statusCode: 400, message: 'request body is not valid UTF-8' })
  const replacement = Buffer.from('{"a":"\uFFFD"}')
  const ok = reading(replacement.length, budget)
  ok.stream.end(replacement)
  t.same(await ok.result, { err: null, text: '{"a":"\uFFFD"}' })
  t.equal(budget.held, 0)
})

t.test("Fastify's limits: Content-Length over the limit, bytes over the limit, a length that does not match", async (t) => {
  const budget = new BodyBudget()
  const announced = reading(2000, budget, 1000)
  t.match((await announced.result).err, { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 'refused before reading')

  const chunked = reading(NaN, budget, 1000)
  chunked.stream.write(Buffer.alloc(600))
  chunked.stream.write(Buffer.alloc(600))
  t.match((await chunked.result).err, { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }, 'refused as the bytes pass the limit')

  const short = reading(10, budget)
  short.stream.end('{}')
  t.match((await short.result).err, { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 })
  const long = reading(1, budget)
  long.stream.end('{}')
  t.match((await long.result).err, { code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', statusCode: 400 })
  t.equal(budget.held, 0, 'every refusal gives its bytes back')
})

t.test('the budget: large bodies past it are refused (429) and drained, small ones are always read', async (t) => {
  const tick = () => new Promise((r) => setImmediate(r))
  const budget = new BodyBudget(5 * SMALL_BODY_BYTES)
  // A large body with a Content-Length takes its whole length as it starts: it is never cut short by others.
  const held = reading(4 * SMALL_BODY_BYTES, budget)
  t.equal(budget.held, 4 * SMALL_BODY_BYTES, 'reserved at once')

  // Announced large, and it would not fit: refused, but read to its end (and dropped) so the client gets the 429.
  const announced = reading(2 * SMALL_BODY_BYTES, budget)
  announced.stream.write(Buffer.alloc(SMALL_BODY_BYTES))
  await tick()
  t.equal(announced.calls(), 0, 'not answered while the body still comes')
  t.equal(budget.held, 4 * SMALL_BODY_BYTES, 'nothing held for it')
  announced.stream.end(Buffer.alloc(SMALL_BODY_BYTES))
  const refused = (await announced.result).err
  t.ok(refused instanceof BodyBudgetError)
  t.match(refused, { statusCode: 429, code: 'NETPOL_GUARD_BODY_BUDGET', message: /^too many large request bodies at once: this replica holds at most 320 KiB of them while they arrive; retry shortly$/ })

  // Without a Content-Length: its bytes count as they come; refused once it is large and the budget is passed.
  const chunked = reading(NaN, budget)
  chunked.stream.write(Buffer.alloc(SMALL_BODY_BYTES / 2))
  await tick()
  t.equal(budget.held, 4.5 * SMALL_BODY_BYTES)
  chunked.stream.write(Buffer.alloc(SMALL_BODY_BYTES))
  await tick()
  t.equal(budget.held, 4 * SMALL_BODY_BYTES, 'what it held is given back when it is refused')
  chunked.stream.end(Buffer.alloc(SMALL_BODY_BYTES))
  t.match((await chunked.result).err, { statusCode: 429 })

  budget.take(2 * SMALL_BODY_BYTES) // another body arrives: 6 × SMALL_BODY_BYTES held, past the budget
  const small = reading(SMALL_BODY_BYTES, budget)
  small.stream.end(Buffer.alloc(SMALL_BODY_BYTES, 0x20))
  t.equal((await small.result).text?.length, SMALL_BODY_BYTES, 'a small body is read although the budget is passed')
  budget.give(2 * SMALL_BODY_BYTES)

  held.stream.end(Buffer.alloc(4 * SMALL_BODY_BYTES, 0x20))
  t.equal((await held.result).text?.length, 4 * SMALL_BODY_BYTES, 'the body that held the budget completes')
  t.equal(budget.held, 0)
  const after = reading(2 * SMALL_BODY_BYTES, budget)
  after.stream.end(Buffer.alloc(2 * SMALL_BODY_BYTES, 0x20))
  t.equal((await after.result).err, null, 'a large body fits again')
  t.equal(budget.held, 0)
})

t.test('a stream error or a peer gone mid-body ends the read once and gives the bytes back', async (t) => {
  const budget = new BodyBudget()
  const errored = reading(100, budget)
  errored.stream.write('{"a":')
  errored.stream.destroy(new Error('boom'))
  t.match((await errored.result).err, { message: 'boom', statusCode: 400 })
  t.equal(budget.held, 0)
  await new Promise((r) => setImmediate(r))
  t.equal(errored.calls(), 1, 'done called once (error, then close)')

  const closed = reading(100, budget)
  closed.stream.write('{"a":')
  await new Promise((r) => setImmediate(r))
  closed.stream.destroy()
  t.match((await closed.result).err, { code: 'ECONNRESET', statusCode: 400 })
  t.equal(budget.held, 0)
  await new Promise((r) => setImmediate(r))
  t.equal(closed.calls(), 1, 'done called once')
})
