// Large bodies are parsed first in a child process with a heap of its own (parse-check.ts): one whose parse does not fit
// is refused, and the child that ran out of memory is replaced, never the server.
import t from 'tap'
import { ParseCheck, ParseTooCostlyError } from '../src/server/parse-check.js'

function check(pc: ParseCheck, text: string): Promise<Error | null> {
  return new Promise((resolve) => pc.check(text, resolve))
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
