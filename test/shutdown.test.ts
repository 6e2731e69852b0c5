// SIGTERM: the real CLI (`serve`, run from the TypeScript sources with tap's loader) stops being ready at once,
// finishes the admission requests it is in the middle of, then exits 0. Requests are held in flight by sending
// their headers (with `Expect: 100-continue`, so the server's "100 Continue" proves it has taken the request)
// and only half of the body before the signal, and the rest after it. Every wait is on an event or a condition,
// with a deadline.
import t from 'tap'
import { connect, type TLSSocket } from 'node:tls'
import { request as httpsRequest } from 'node:https'
import { example } from './helpers/server.js'
import { DEADLINE_MS, deadline, startServe } from './helpers/serve-child.js'

/** An admission request on a raw TLS connection: headers and half the body now, the rest on demand. */
class HeldRequest {
  private data = ''
  private readonly socket: TLSSocket
  private readonly body: Buffer
  private onData?: () => void
  readonly uid: string

  constructor(port: number, i: number) {
    const review = example('pod-create-team-a.json')
    review.request.uid = `shutdown-${i}`
    this.uid = review.request.uid
    this.body = Buffer.from(JSON.stringify(review))
    this.socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false })
    this.socket.setEncoding('utf8')
    this.socket.on('data', (d: string) => {
      this.data += d
      this.onData?.()
    })
  }

  private until(what: string, pred: () => boolean): Promise<void> {
    return deadline(
      what,
      DEADLINE_MS,
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pred()) {
            this.onData = undefined
            resolve()
          }
        }
        this.onData = check
        this.socket.once('error', reject)
        this.socket.once('close', () => (pred() ? resolve() : reject(new Error(`${what}: connection closed; got ${JSON.stringify(this.data)}`))))
        check()
      }),
    )
  }

  /** Sends the headers and half of the body; resolves once the server has answered "100 Continue". */
  async start(): Promise<void> {
    await deadline('TLS handshake', DEADLINE_MS, new Promise<void>((resolve, reject) => this.socket.once('secureConnect', resolve).once('error', reject)))
    this.socket.write(
      `POST /validate?timeout=10s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${this.body.length}\r\nExpect: 100-continue\r\n\r\n`,
    )
    await this.until('100 Continue', () => this.data.includes('HTTP/1.1 100 Continue\r\n\r\n'))
    this.socket.write(this.body.subarray(0, this.body.length >> 1))
  }

  /** Sends the rest of the body; resolves with the final status and JSON body. */
  async finish(): Promise<{ status: number; body: any }> {
    this.socket.write(this.body.subarray(this.body.length >> 1))
    const final = () => {
      const at = this.data.indexOf('HTTP/1.1 ', this.data.indexOf('100 Continue') + 12)
      if (at < 0) return undefined
      const headEnd = this.data.indexOf('\r\n\r\n', at)
      if (headEnd < 0) return undefined
      const head = this.data.slice(at, headEnd)
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? NaN)
      const body = this.data.slice(headEnd + 4)
      if (!(Buffer.byteLength(body) >= len)) return undefined
      return { status: Number(head.split(' ')[1]), body: JSON.parse(body) }
    }
    await this.until('final response', () => final() !== undefined)
    this.socket.end()
    return final()!
  }
}

/** GET /readyz on a new connection: the status code, or the connection error's code. */
function readyz(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/readyz', servername: 'localhost', rejectUnauthorized: false, agent: false, timeout: 5000 }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message))
    req.end()
  })
}

t.test('SIGTERM: not ready at once, requests in flight finish with 200, then exit 0', async (t) => {
  // debug: the held requests are allowed ones, whose decision lines are debug lines
  const { child, log, port, exited } = await startServe(t, [], { LOG_LEVEL: 'debug' })
  t.ok(port > 0, `serving on ${port}`)
  t.equal(await readyz(port), 200, 'ready before the signal')

  const held = Array.from({ length: 8 }, (_, i) => new HeldRequest(port, i))
  await Promise.all(held.map((h) => h.start()))
  t.pass(`${held.length} requests in flight (headers taken, half of each body sent)`)

  child.kill('SIGTERM')
  await log.waitFor('"shutting down" line', (l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'))
  const notReady = await readyz(port)
  t.ok(notReady === 503 || (typeof notReady === 'string' && /ECONNREFUSED|ECONNRESET|EPIPE/.test(notReady)), `/readyz after SIGTERM: ${notReady} (503 or refused)`)
  t.equal(child.exitCode, null, 'still running while requests are in flight')

  const answers = await Promise.all(held.map((h) => h.finish()))
  answers.forEach((a, i) => {
    t.equal(a.status, 200, `request ${i}: 200`)
    t.equal(a.body.response?.uid, held[i]!.uid, `request ${i}: its own uid`)
    t.equal(a.body.response?.allowed, true, `request ${i}: decided`)
  })

  const { code, signal } = await deadline('exit after SIGTERM', DEADLINE_MS, exited)
  t.equal(signal, null, 'not killed by the signal')
  t.equal(code, 0, 'exit code 0')
  t.ok(log.lines.some((l) => l.msg === 'stopped'), '"stopped" logged (and flushed) before exit')
  const decisions = log.lines.filter((l) => typeof l.uid === 'string' && l.uid.startsWith('shutdown-'))
  t.equal(decisions.length, held.length, 'every request in flight logged its decision')
})
