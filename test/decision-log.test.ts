// The decision log line: what DecisionLog writes must be the line pino itself would write for the same fields.
import fc from 'fast-check'
import { Writable } from 'node:stream'
import { pino, type LoggerOptions } from 'pino'
import t from 'tap'
import { DecisionLog, type DecisionFields } from '../src/admission/decision-log.js'

function capture(opts: LoggerOptions = {}) {
  const raw: string[] = []
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw.push(chunk.toString())
      cb()
    },
  })
  return { logger: pino({ level: 'info', ...opts }, stream), raw }
}

const FIELDS: DecisionFields = {
  uid: '11111111-0000-0000-0000-000000000002',
  operation: 'CREATE',
  resource: 'pods',
  object: 'team-b/web-0',
  user: 'alice@example.com',
  rule: 'require-deny-all',
  decision: 'deny',
  mode: 'enforce',
  ms: 0.042,
  message: '[require-deny-all] Pod team-b/web-0 is refused: namespace team-b has no deny-all NetworkPolicy for ingress and egress.',
}

/** A line without its time, which differs between two writes. */
const timeless = (line: string) => line.replace(/,"time":\d+/, '')

t.test('the same line as pino writes, key order included', async (t) => {
  const { logger, raw } = capture({ base: null })
  new DecisionLog(logger).write('warn', FIELDS, 'admission validate deny')
  logger.warn(FIELDS, 'admission validate deny')
  t.equal(raw.length, 2)
  t.equal(timeless(raw[0]!), timeless(raw[1]!))
  t.match(raw[0], /^\{"level":40,"time":\d+,"uid":/)
  t.ok(raw[0]!.endsWith('"msg":"admission validate deny"}\n'))
})

t.test("the logger's bindings (base and child) are kept", async (t) => {
  const { logger, raw } = capture()
  const child = logger.child({ component: 'admission' })
  new DecisionLog(child).write('info', { ...FIELDS, decision: 'patch', rule: 'none', outcome: 'patched' }, 'admission mutate patch')
  const line = JSON.parse(raw[0]!)
  t.equal(line.pid, process.pid)
  t.equal(line.component, 'admission')
  t.equal(line.outcome, 'patched')
  t.equal(line.level, 30)
})

t.test('optional fields: absent when not set, written when set', async (t) => {
  const { logger, raw } = capture({ base: null })
  const log = new DecisionLog(logger)
  const { user: _user, message: _message, ...bare } = FIELDS
  log.write('info', { ...bare, decision: 'allow', rule: 'none' }, 'admission validate allow')
  log.write('warn', { ...FIELDS, dryRun: true, rules: ['require-deny-all', 'no-allow-all'], note: 'allowed without checking' }, 'admission validate warn')
  const [a, b] = raw.map((l) => JSON.parse(l))
  t.notOk('user' in a || 'message' in a || 'dryRun' in a || 'rules' in a || 'note' in a, 'nothing written for unset fields')
  t.same(b.rules, ['require-deny-all', 'no-allow-all'])
  t.equal(b.dryRun, true)
  t.equal(b.note, 'allowed without checking')
})

t.test('text from the request is escaped exactly as pino escapes it', async (t) => {
  const { logger, raw } = capture({ base: null })
  const log = new DecisionLog(logger)
  const odd = ['quote " and backslash \\', 'new\nline\ttab', 'emoji 🚀', '\u0000\u001f control', 'ünïcödé']
  for (const s of odd) {
    raw.length = 0
    const f = { ...FIELDS, object: s, user: s, message: s, uid: s }
    log.write('warn', f, 'admission validate deny')
    logger.warn(f, 'admission validate deny')
    t.equal(timeless(raw[0]!), timeless(raw[1]!), JSON.stringify(s))
    t.equal(JSON.parse(raw[0]!).object, s)
  }
})

t.test('a lone surrogate is written as a \\u escape, so the line stays valid UTF-8 and reads back unchanged', async (t) => {
  // pino writes it raw; it becomes U+FFFD when the line is encoded. The escaped form loses nothing.
  const { logger, raw } = capture({ base: null })
  const s = 'half \ud800 pair'
  new DecisionLog(logger).write('warn', { ...FIELDS, object: s }, 'admission validate deny')
  t.match(raw[0], /"object":"half \\ud800 pair"/)
  t.equal(JSON.parse(raw[0]!).object, s)
  t.ok(Buffer.from(raw[0]!, 'utf8').toString('utf8') === raw[0], 'survives UTF-8 encoding')
})

t.test('random field values: always one valid JSON line that reads back as the fields', async (t) => {
  const { logger, raw } = capture({ base: null })
  const log = new DecisionLog(logger)
  fc.assert(
    fc.property(fc.string(), fc.string({ unit: 'binary' }), fc.option(fc.string(), { nil: undefined }), fc.string({ unit: 'binary' }), fc.double(), (uid, object, user, message, ms) => {
      raw.length = 0
      const f: DecisionFields = { ...FIELDS, uid, object, user, message, ms }
      log.write('warn', f, 'admission validate deny')
      logger.warn(f, 'admission validate deny')
      if (raw.length !== 2 || !raw[0]!.endsWith('}\n') || raw[0]!.indexOf('\n') !== raw[0]!.length - 1) return false
      const line = JSON.parse(raw[0]!)
      // the same text as pino's line, and every value reads back as it was (lone surrogates included)
      return (
        timeless(raw[0]!) === timeless(raw[1]!) &&
        line.uid === uid && line.object === object && line.user === user && line.message === message &&
        line.ms === (Number.isFinite(ms) ? ms : null)
      )
    }),
    { numRuns: 2000 },
  )
  t.pass('2000 random lines matched pino')
})

t.test('level: a disabled level writes nothing', async (t) => {
  const { logger, raw } = capture({ base: null, level: 'warn' })
  const log = new DecisionLog(logger)
  t.equal(log.enabled('info'), false)
  t.equal(log.enabled('warn'), true)
  logger.level = 'debug'
  t.equal(log.enabled('debug'), true, 'follows a level changed at run time')
  t.equal(raw.length, 0)
})

t.test('a logger pino must format itself (mixin, formatter, redaction) gets the line through pino', async (t) => {
  const mixin = capture({ base: null, mixin: () => ({ replica: 'a' }) })
  new DecisionLog(mixin.logger).write('warn', FIELDS, 'admission validate deny')
  t.equal(JSON.parse(mixin.raw[0]!).replica, 'a', 'mixin applied')

  const redacted = capture({ base: null, redact: ['user'] })
  new DecisionLog(redacted.logger).write('warn', FIELDS, 'admission validate deny')
  t.equal(JSON.parse(redacted.raw[0]!).user, '[Redacted]', 'redaction applied')

  const labels = capture({ base: null, formatters: { level: (label) => ({ level: label }) } })
  new DecisionLog(labels.logger).write('warn', FIELDS, 'admission validate deny')
  t.equal(JSON.parse(labels.raw[0]!).level, 'warn', 'level formatter applied (through the cached level prefix)')

  const logFormatter = capture({ base: null, formatters: { log: (o) => ({ ...o, formatted: true }) } })
  new DecisionLog(logFormatter.logger).write('warn', FIELDS, 'admission validate deny')
  t.equal(JSON.parse(logFormatter.raw[0]!).formatted, true, 'log formatter applied')

  const key = capture({ base: null, messageKey: 'message_text' })
  new DecisionLog(key.logger).write('warn', FIELDS, 'admission validate deny')
  t.equal(JSON.parse(key.raw[0]!).message_text, 'admission validate deny', 'message key honoured')
})
