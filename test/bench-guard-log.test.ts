// The bench's reader of the guard's stdout (bench/servers.ts, GuardLog): the guard writes its log to a FIFO, as a
// container runtime takes it, and the bench counts the admission lines and bytes from it, keeps the other lines
// (the "serving" line gives the port), and sees the end of the log when the writer exits.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { logPipe } from '../bench/servers.js'
import { deadline } from './helpers/serve-child.js'

// A writer that sends its lines in pieces of 1 to 97 bytes (fs.writeSync each), so that lines cross the reader's
// chunks; the pieces are written fast enough that many arrive together, and a pause now and then splits them.
const WRITER = `
const fs = require('node:fs')
const lines = JSON.parse(process.argv[1])
const text = Buffer.from(lines.join(''))
let at = 0, k = 0
function more() {
  for (let n = 0; n < 50 && at < text.length; n++) {
    const size = 1 + ((k++ * 37) % 97)
    fs.writeSync(1, text, at, Math.min(size, text.length - at))
    at += size
  }
  if (at < text.length) setTimeout(more, 1)
}
more()
`

function lines(): { all: string[]; others: string[]; admission: number } {
  const all: string[] = []
  const others: string[] = []
  let admission = 0
  for (let i = 0; i < 400; i++) {
    if (i % 50 === 0) {
      const l = JSON.stringify({ level: 30, msg: 'netpol-guard serving', port: 8443 + i, note: 'é ✓' }) + '\n'
      all.push(l)
      others.push(l)
    } else {
      // a decision whose message mentions "admission" too: counted once, by the msg field
      all.push(JSON.stringify({ level: 40, uid: `u-${i}`, message: `[no-global-policy] admission of x-${i} is refused`, msg: 'admission validate deny' }) + '\n')
      admission++
    }
  }
  return { all, others, admission }
}

async function writeThrough(t: Test, keep: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'netpol-guard-log-pipe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const keepFile = keep ? join(dir, 'kept.log') : undefined
  const { writeFd, log } = logPipe(join(dir, 'guard.stdout'), keepFile)
  t.teardown(() => log.close())
  const want = lines()
  const child = spawn(process.execPath, ['-e', WRITER, JSON.stringify(want.all)], { stdio: ['ignore', writeFd, 'inherit'] })
  closeSync(writeFd)
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
  await deadline('the end of the log', 20_000, log.closed)
  t.equal(await exited, 0, 'the writer exited cleanly')
  return { log, want, keepFile }
}

t.test('counts admission lines and bytes across chunk boundaries, keeps the other lines, ends with the writer', async (t) => {
  const { log, want } = await writeThrough(t, false)
  t.equal(log.admissionLines, want.admission)
  t.equal(log.bytes, Buffer.byteLength(want.all.join('')))
  t.equal(log.text(), want.others.join(''), 'the other lines, whole and in order (UTF-8 split across chunks included)')
})

t.test('with a keep file, everything is written there as it came', async (t) => {
  const { log, want, keepFile } = await writeThrough(t, true)
  t.equal(readFileSync(keepFile!, 'utf8'), want.all.join(''))
  t.equal(log.admissionLines, want.admission)
})
