// JSON text for the hot path: a string's JSON form without a call into JSON.stringify when nothing in it needs
// escaping, which is nearly always (names, uids and the guard's own messages).

// A string with nothing JSON needs escaped and no surrogate (JSON.stringify writes a lone one as a \u escape; a
// pair goes through it too). Anchored and negated, so the engine runs one tight loop over the string instead of
// trying a match at every position: a third faster over a log line's text.
const PLAIN = /^[^\u0000-\u001f"\\\ud800-\udfff]*$/

// A denial's message (a few hundred characters) is quoted twice per request, for the decision log and then for the
// response: the last long string quoted is remembered so the second time costs a comparison, not a scan. Short
// strings (uids, names) are cheaper to scan than to compare and would only push the message out.
const LONG = 64
let lastLong = ''
let lastLongQuoted = '""'

/** A string's JSON form, as JSON.stringify writes it. */
export function quote(s: string): string {
  if (s.length < LONG) return PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s)
  if (s === lastLong) return lastLongQuoted
  const quoted = PLAIN.test(s) ? '"' + s + '"' : JSON.stringify(s)
  lastLong = s
  lastLongQuoted = quoted
  return quoted
}
