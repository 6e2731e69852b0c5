// The log line of one admission decision, in pino's own JSON format, written to the logger's destination.
//
// This line is written for every request, and pino's generic serializer is the larger part of its cost: it walks
// the object key by key (own-property check, serializer and stringifier lookups, escaping of every key). The keys
// here are fixed, so they are written pre-quoted and only the values are escaped. The line stays what pino writes
// (level, time, the logger's bindings, fields, msg; same level numbers); a logger with a mixin, a log formatter,
// redaction, serializers for these fields, hooks or a stream that wants metadata (pino.multistream) gets the line
// through pino itself instead.
import { pino, type Level, type Logger } from 'pino'
import type { Decision, Mode, RuleId } from '../config.js'
import type { MutationOutcome } from '../decision/mutate.js'
import { quote } from './json-text.js'

export interface DecisionFields {
  uid: string
  operation: string
  resource: string
  object: string
  user: string | undefined
  rule: RuleId | 'none'
  decision: Decision
  mode: Mode
  ms: number
  dryRun?: true
  rules?: string[]
  outcome?: MutationOutcome
  message?: string
  note?: string
}

const FIELD_NAMES = ['uid', 'operation', 'resource', 'object', 'user', 'rule', 'decision', 'mode', 'ms', 'dryRun', 'rules', 'outcome', 'message', 'note', 'msg']

interface PinoInternals {
  [key: symbol]: unknown
}

const sym = pino.symbols as unknown as Record<string, symbol>

/** The pieces pino itself uses to start and end a line, when it is safe to write one without pino. */
function directWriter(logger: Logger): { write(level: Level, body: string, msg: string): void } | undefined {
  const l = logger as unknown as PinoInternals
  const stream = l[sym.streamSym!] as { write(s: string): unknown; [k: symbol]: unknown } | undefined
  const formatters = l[sym.formattersSym!] as { log?: unknown } | undefined
  const lsCache = l[sym.lsCacheSym!] as Record<number, string> | undefined
  const time = l[sym.timeSym!] as (() => string) | undefined
  const hooks = l[sym.hooksSym!] as { logMethod?: unknown; streamWrite?: unknown } | undefined
  if (!stream || typeof stream.write !== 'function' || !lsCache || typeof time !== 'function') return undefined
  if (formatters?.log || l[sym.mixinSym!] || hooks?.logMethod || hooks?.streamWrite || stream[sym.needsMetadataGsym!]) return undefined
  // redaction and per-key stringifiers live here; serializers could rewrite one of our fields
  const stringifiers = l[sym.stringifiersSym!] as object | undefined
  if (stringifiers && Reflect.ownKeys(stringifiers).length > 0) return undefined
  const serializers = (l[sym.serializersSym!] ?? {}) as Record<string, unknown>
  if (FIELD_NAMES.some((k) => typeof serializers[k] === 'function')) return undefined
  if (l[sym.messageKeySym!] !== 'msg' || l[sym.msgPrefixSym!] || l[sym.nestedKeySym!]) return undefined
  const end = l[sym.endSym!]
  if (typeof end !== 'string') return undefined
  return {
    write(level, body, msg) {
      const num = logger.levels.values[level]!
      // the logger's bindings (base, child bindings) are read on each line: a child's are its own
      stream.write(lsCache[num] + time() + (l[sym.chindingsSym!] as string) + body + ',"msg":"' + msg + '"' + end)
    },
  }
}

export class DecisionLog {
  private readonly direct: ReturnType<typeof directWriter>

  constructor(private readonly logger: Logger) {
    this.direct = directWriter(logger)
  }

  enabled(level: Level): boolean {
    return this.logger.isLevelEnabled(level)
  }

  /** `rule`, `decision`, `mode`, `outcome` and `msg` are the guard's own words (no escaping needed); the rest is checked. */
  write(level: Level, f: DecisionFields, msg: string): void {
    if (!this.direct) {
      this.logger[level](f, msg)
      return
    }
    // Each free-text value is checked on its own (quote): one regex pass over each, with no joined copy to flatten.
    // Field by field rather than a loop over the keys: a keyed read with a changing key is a slow, megamorphic one.
    let body = ',"uid":' + quote(f.uid) + ',"operation":' + quote(f.operation) + ',"resource":' + quote(f.resource) + ',"object":' + quote(f.object)
    if (f.user !== undefined) body += ',"user":' + quote(f.user)
    body += ',"rule":"' + f.rule + '","decision":"' + f.decision + '","mode":"' + f.mode + '","ms":' + (Number.isFinite(f.ms) ? f.ms : 'null')
    if (f.dryRun) body += ',"dryRun":true'
    if (f.rules) body += ',"rules":' + JSON.stringify(f.rules)
    if (f.outcome !== undefined) body += ',"outcome":"' + f.outcome + '"'
    if (f.message !== undefined) body += ',"message":' + quote(f.message)
    if (f.note !== undefined) body += ',"note":' + quote(f.note)
    this.direct.write(level, body, msg)
  }
}
