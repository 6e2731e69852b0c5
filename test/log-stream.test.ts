// BatchedLogStream: lines gathered during a turn of the event loop, written in order, nothing lost.
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import t from 'tap'
import { BatchedLogStream } from '../src/server/log-stream.js'

function tempFile(t: typeof import('tap').default): { path: string; fd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'netpol-guard-log-'))
  const path = join(dir, 'out.log')
  const fd = openSync(path, 'w')
  t.teardown(() => closeSync(fd))
  return { path, fd }
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r))

t.test('lines wait for the end of the turn, then go out in one write, in order', async (t) => {
  const { path, fd } = tempFile(t)
  const s = new BatchedLogStream(fd)
  for (let i = 0; i < 100; i++) s.write(`{"n":${i}}\n`)
  t.equal(readFileSync(path, 'utf8'), '', 'nothing written during the turn')
  await nextTurn()
  await nextTurn()
  const lines = readFileSync(path, 'utf8').trim().split('\n')
  t.equal(lines.length, 100)
  t.same(lines.map((l) => JSON.parse(l).n), [...Array(100).keys()])
})

t.test('more than a batch in one turn: written as it fills, order kept', async (t) => {
  const { path, fd } = tempFile(t)
  const s = new BatchedLogStream(fd)
  const pad = 'x'.repeat(1000)
  for (let i = 0; i < 300; i++) s.write(JSON.stringify({ n: i, pad }) + '\n')
  t.ok(readFileSync(path, 'utf8').length > 0, 'part of it written before the turn ended (bounded memory)')
  s.flushSync()
  const lines = readFileSync(path, 'utf8').trim().split('\n')
  t.same(lines.map((l) => JSON.parse(l).n), [...Array(300).keys()])
})

t.test('a line larger than the batch buffer goes out whole, after what was waiting', async (t) => {
  const { path, fd } = tempFile(t)
  const s = new BatchedLogStream(fd)
  s.write('{"n":0}\n')
  const big = JSON.stringify({ n: 1, pad: 'é'.repeat(100_000) }) + '\n'
  s.write(big)
  s.write('{"n":2}\n')
  s.flushSync()
  const lines = readFileSync(path, 'utf8').trim().split('\n')
  t.same(lines.map((l) => JSON.parse(l).n), [0, 1, 2])
  t.equal(JSON.parse(lines[1]!).pad.length, 100_000, 'multi-byte text intact')
})

t.test('multi-byte text right at the buffer edge is not cut', async (t) => {
  const { path, fd } = tempFile(t)
  const s = new BatchedLogStream(fd)
  const lines: string[] = []
  for (let i = 0; i < 200; i++) {
    const line = JSON.stringify({ n: i, text: '🚀ü'.repeat(50 + (i % 37)) }) + '\n'
    lines.push(line)
    s.write(line)
  }
  s.flushSync()
  t.equal(readFileSync(path, 'utf8'), lines.join(''))
})

t.test('flush() and flushSync() write what is waiting; pino.flush works through it', async (t) => {
  const { path, fd } = tempFile(t)
  const s = new BatchedLogStream(fd)
  const logger = pino({ base: null }, s)
  logger.info('one')
  await new Promise<void>((resolve, reject) => logger.flush((err) => (err ? reject(err) : resolve())))
  t.match(readFileSync(path, 'utf8'), /"msg":"one"/)
})

t.test('a reader that went away (EPIPE) stops logging, never throws into the caller', async (t) => {
  // fd of a file opened read-only: every write fails (EBADF), as a closed pipe would (EPIPE)
  const { path } = tempFile(t)
  const ro = openSync(path, 'r')
  t.teardown(() => closeSync(ro))
  const s = new BatchedLogStream(ro)
  t.doesNotThrow(() => s.write('{"n":0}\n'))
  await nextTurn()
  await nextTurn()
  t.doesNotThrow(() => s.write('x'.repeat(100_000) + '\n'), 'big line: no throw either')
  t.doesNotThrow(() => s.write('{"n":1}\n'))
  t.doesNotThrow(() => s.flushSync(), 'nothing waits once broken')
})
