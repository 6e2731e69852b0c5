// The real CLI's `serve` in a child process, run from the TypeScript sources with tap's loader, as an operator
// runs it: its JSON log lines as they come, a way to wait for one, and deadlines on every wait.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './server.js'

export const STARTUP_DEADLINE_MS = 90_000
export const DEADLINE_MS = 20_000

/** The flags that make node run TypeScript here (tap's loader), from this test process's own. */
export function tsNodeArgs(): string[] {
  const out: string[] = []
  const argv = process.execArgv
  argv.forEach((a, i) => {
    if (!a.includes('@tapjs/typescript')) return
    if (a.startsWith('--')) out.push(a)
    else if (i > 0) out.push(argv[i - 1]!, a)
  })
  return out
}

export function deadline<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms)
    }),
  ]).finally(() => clearTimeout(timer))
}

export interface LogLines {
  lines: any[]
  waitFor(what: string, pred: (l: any) => boolean, ms?: number): Promise<any>
}

/** JSON log lines of the child, and a way to wait for one. */
export function logLines(child: ChildProcess): LogLines {
  const lines: any[] = []
  const waiters: { pred: (l: any) => boolean; resolve: (l: any) => void }[] = []
  let rest = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (d: string) => {
    rest += d
    const parts = rest.split('\n')
    rest = parts.pop()!
    for (const p of parts) {
      if (!p.trim()) continue
      let l: any
      try {
        l = JSON.parse(p)
      } catch {
        continue
      }
      lines.push(l)
      for (const w of [...waiters]) if (w.pred(l)) waiters.splice(waiters.indexOf(w), 1), w.resolve(l)
    }
  })
  const waitFor = (what: string, pred: (l: any) => boolean, ms = DEADLINE_MS) => {
    const seen = lines.find(pred)
    if (seen) return Promise.resolve(seen)
    return deadline(what, ms, new Promise<any>((resolve) => waiters.push({ pred, resolve })))
  }
  return { lines, waitFor }
}

export interface ServeChild {
  child: ChildProcess
  log: LogLines
  /** The "netpol-guard serving" line. */
  serving: any
  port: number
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts `netpol-guard serve --host 127.0.0.1 --port 0 --state <demo> ...args` and waits until it serves. The child
 * is killed when the test ends, if it is still running.
 */
export async function startServe(
  t: { teardown(fn: () => void): void },
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServeChild> {
  const loader = tsNodeArgs()
  if (loader.length === 0) throw new Error('no TypeScript loader in execArgv: run this under tap')
  const child = spawn(process.execPath, [...loader, join(ROOT, 'src', 'cli.ts'), 'serve', '--host', '127.0.0.1', '--port', '0', '--state', join(ROOT, 'examples', 'demo-state.yaml'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  let stderr = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (d: string) => (stderr += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const log = logLines(child)
  const serving = await log.waitFor('"netpol-guard serving" line', (l) => l.msg === 'netpol-guard serving', STARTUP_DEADLINE_MS).catch((e) => {
    throw new Error(`${(e as Error).message}; stderr: ${stderr}`)
  })
  return { child, log, serving, port: serving.port as number, exited }
}
