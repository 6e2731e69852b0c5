// `npm run bench`: the guard against a bare Fastify HTTPS baseline, in one run.
//
// Both servers run as child processes; autocannon drives them from this process, one at a time, the order swapped
// every other round (guard, baseline, baseline, guard, ...) after a warm-up of each, over the same request mix
// (bench/workload.ts). The guard is the real CLI (`node dist/cli.js serve --state FILE`) with its default logging
// (info: a JSON line per refusal and change) going to a log file; the baseline answers a fixed AdmissionReview with
// logging off.
//
// Flags: --duration S (per round, default 5), --rounds N (6), --warmup S (5), --connections C (32),
//        --namespaces N (1000), --out FILE (bench/results/latest.json), --keep-logs, --cpu-prof DIR (profile both servers),
//        --rate R (a steady R requests per second, open loop, instead of as many as the server takes: the latency an
//        admission request sees below saturation; the throughput target becomes "both servers kept the rate").
import autocannon from 'autocannon'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { generateState, requestMix, type MixRequest } from './workload.js'
import { packageRoot } from './image-env.js'
import { bootstrapInterval, median } from './interval.js'
import { failureText, numberOption } from './options.js'
import { pacedAgent, pacedLoad, type LoadResult, type OnResponse, type PacedRequest } from './paced.js'
import { builtScripts, sanityCheck, startBaseline, startGuard, stopServer, type Server } from './servers.js'

interface Options {
  duration: number
  rounds: number
  warmup: number
  connections: number
  namespaces: number
  out: string
  keepLogs: boolean
  /** The guard's LOG_LEVEL (default info: the target is met with logging on; other levels only show logging's cost). */
  logLevel: string
  /** Directory for V8 CPU profiles of both servers (node --cpu-prof; DIR/guard, DIR/baseline), written when they exit. */
  cpuProf?: string
  /** A steady rate, requests per second, sent on schedule whatever the answers (pacedLoad); unset: as fast as served. */
  rate?: number
}

function options(root: string): Options {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '6' },
      warmup: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      namespaces: { type: 'string', default: '1000' },
      out: { type: 'string', default: join(root, 'bench', 'results', 'latest.json') },
      'keep-logs': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      rate: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write('usage: npm run bench -- [--duration S] [--rounds N] [--warmup S] [--connections C] [--namespaces N] [--out FILE] [--keep-logs] [--cpu-prof DIR] [--log-level LEVEL] [--rate R]\n')
    process.exit(0)
  }
  return {
    duration: numberOption('duration', values.duration, 1),
    rounds: Math.floor(numberOption('rounds', values.rounds, 1)),
    warmup: numberOption('warmup', values.warmup, 0),
    connections: Math.floor(numberOption('connections', values.connections, 1)),
    namespaces: Math.floor(numberOption('namespaces', values.namespaces, 10)),
    out: resolve(values.out!),
    keepLogs: values['keep-logs'] === true,
    logLevel: values['log-level']!,
    ...(values['cpu-prof'] ? { cpuProf: resolve(values['cpu-prof']) } : {}),
    ...(values.rate !== undefined ? { rate: numberOption('rate', values.rate, 1) } : {}),
  }
}

// ---------------------------------------------------------------------------------------------
// Load

interface RunResult {
  server: 'guard' | 'baseline'
  round: number
  /** CPU time (user + system) the server process spent per answered request, in µs (Linux /proc; NaN elsewhere). */
  cpuUsPerRequest: number
  /** The part of cpuUsPerRequest spent in the kernel (socket and log writes, TLS records leave through it). */
  systemUsPerRequest: number
  seconds: number
  requests: number
  rps: number
  p50: number
  p90: number
  p99: number
  max: number
  non2xx: number
  /** Connection errors and timeouts. */
  errors: number
  /** --rate only: how late the generator issued requests, ms (p99, worst); left out of the latencies. */
  generatorLag?: { p99: number; max: number }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

/** One request of the mix over HTTP, for autocannon and for pacedLoad alike. */
type HttpRequest = PacedRequest & { method: 'POST' }

function httpRequests(mix: MixRequest[]): HttpRequest[] {
  return mix.map((m) => ({ method: 'POST', path: `${m.path}?timeout=10s`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(m.review) }))
}

/** user and system CPU seconds of a process so far (Linux), or NaN. */
function processCpuSeconds(pid: number | undefined): { user: number; system: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[11], fields[12] are utime and stime (fields 14 and 15 of proc(5)), in clock ticks (USER_HZ = 100).
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 }
  } catch {
    return { user: NaN, system: NaN }
  }
}

// One keep-alive agent per server for all its paced rounds: connections (and their TLS handshakes) are made once.
const pacedAgents = new Map<Server, ReturnType<typeof pacedAgent>>()

function agentFor(s: Server, connections: number): ReturnType<typeof pacedAgent> {
  let agent = pacedAgents.get(s)
  if (!agent) pacedAgents.set(s, (agent = pacedAgent(connections)))
  return agent
}

async function load(s: Server, mix: HttpRequest[], o: Options, seconds: number, round: number): Promise<RunResult> {
  if (o.rate !== undefined) return measured(s, round, (onResponse) => pacedLoad(new URL(`https://127.0.0.1:${s.port}`), mix, agentFor(s, o.connections), o.rate!, seconds, onResponse))
  return measured(s, round, (onResponse) => autocannonLoad(s, mix, o, seconds, onResponse))
}

async function autocannonLoad(s: Server, mix: autocannon.Request[], o: Options, seconds: number, onResponse: OnResponse): Promise<LoadResult> {
  const result = await new Promise<autocannon.Result>((res, rej) => {
    const inst = autocannon(
      {
        url: `https://127.0.0.1:${s.port}`,
        servername: 'localhost',
        connections: o.connections,
        pipelining: 1,
        duration: seconds,
        requests: mix,
        timeout: 10,
      },
      (err: unknown, r: autocannon.Result) => (err ? rej(err) : res(r)),
    )
    inst.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => onResponse(statusCode, responseTime))
  })
  // autocannon's errors include its timeouts
  return { total: result.requests.total, non2xx: result.non2xx, errors: result.errors, duration: result.duration }
}

/** Runs a load against one server and measures it: the server's CPU per request, and the latency of its 2xx answers. */
async function measured(s: Server, round: number, drive: (onResponse: OnResponse) => Promise<LoadResult>): Promise<RunResult> {
  const cpuBefore = processCpuSeconds(s.child.pid)
  // Latencies are recorded here at full (sub-millisecond) precision; autocannon's own histogram keeps whole ms.
  const latencies: number[] = []
  const result = await drive((status, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms)
  })
  const cpuAfter = processCpuSeconds(s.child.pid)
  const user = cpuAfter.user - cpuBefore.user
  const system = cpuAfter.system - cpuBefore.system
  const sorted = Float64Array.from(latencies).sort()
  return {
    server: s.name,
    round,
    cpuUsPerRequest: ((user + system) * 1e6) / result.total,
    systemUsPerRequest: (system * 1e6) / result.total,
    seconds: result.duration,
    requests: result.total,
    rps: result.total / result.duration,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    non2xx: result.non2xx,
    errors: result.errors,
    ...(result.lag ? { generatorLag: result.lag } : {}),
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Summary {
  rps: number
  p50: number
  p99: number
  requests: number
  non2xx: number
  errors: number
  cpuUsPerRequest: number
}

function summarize(runs: RunResult[]): Summary {
  const seconds = runs.reduce((a, r) => a + r.seconds, 0)
  const requests = runs.reduce((a, r) => a + r.requests, 0)
  return {
    rps: requests / seconds,
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    requests,
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
  }
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length))
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s)

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((c, i) => (i === 0 ? pad(c, widths[i]!) : lpad(c, widths[i]!))).join('  ')).join('\n')
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const root = packageRoot()
  const o = options(root)
  const { cli, baselineScript } = builtScripts()
  const work = mkdtempSync(join(tmpdir(), 'netpol-guard-bench-'))
  const stateFile = join(work, 'state.json')
  writeFileSync(stateFile, JSON.stringify(generateState(o.namespaces)))
  const mix = requestMix(o.namespaces)
  const requests = httpRequests(mix)
  const out = (s: string) => process.stdout.write(s + '\n')

  out(`netpol-guard bench: ${cpus().length} CPU(s) (${cpus()[0]?.model.trim() ?? '?'}), node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
  out(`  autocannon runs in this process; each server in its own child process (only one is driven at a time).`)
  out(`  guard:    node ${cli} serve --host 127.0.0.1 --port 0 --state <${o.namespaces} namespaces> (default logging: info, JSON lines to a pipe this process reads, as a container runtime does)`)
  out(`  baseline: node ${baselineScript} (bare Fastify HTTPS, fixed AdmissionReview answer, logging off)`)
  out(`  ${o.connections} connections, pipelining 1, ${o.rate !== undefined ? `a steady ${o.rate} req/s over them (open loop)` : 'as fast as each server answers'}, ${o.warmup} s warm-up each (as fast as served), ${o.rounds} × ${o.duration} s per server, alternating`)
  out(`  mix of ${mix.length} requests, cycled: ${[...new Set(mix.map((m) => m.label))].join(', ')}`)

  const servers: Server[] = []
  const cleanup = async () => {
    for (const s of servers) await stopServer(s).catch(() => undefined)
  }
  process.once('SIGINT', () => {
    void cleanup().finally(() => process.exit(130))
  })
  let guardExit: number | null = null
  const runs: RunResult[] = []
  let sanity: Record<string, number> = {}
  let logLines = 0
  let logBytes = 0
  try {
    const profile = (name: string) => (o.cpuProf ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', join(o.cpuProf, name)] } : {})
    const guard = await startGuard(cli, stateFile, work, o.logLevel, { ...profile('guard'), keepLog: o.keepLogs })
    servers.push(guard)
    const baseline = await startBaseline(baselineScript, profile('baseline'))
    servers.push(baseline)
    out(`  guard on 127.0.0.1:${guard.port} (pid ${guard.child.pid}), baseline on 127.0.0.1:${baseline.port} (pid ${baseline.child.pid})`)

    sanity = await sanityCheck(guard.port, mix)
    out(`  sanity (each request of the mix once): ${Object.entries(sanity).map(([k, v]) => `${k} ×${v}`).join('; ')}`)

    if (o.warmup > 0) {
      for (const s of [guard, baseline]) {
        // Always as fast as the server answers: at a low fixed rate V8 takes tens of seconds to optimize the request
        // path (at 100 req/s the guard's CPU per request fell from ~1.5 to ~0.8–0.9 ms over its first minute), and the
        // rounds are to measure a server that has been running, as a webhook has.
        const w = await load(s, requests, { ...o, rate: undefined }, o.warmup, 0)
        out(`  warm-up ${pad(s.name, 8)} ${w.rps.toFixed(0)} req/s`)
        // Then 2 s at the rate, discarded: the paced client's own code warms up, and its connections are made.
        if (o.rate !== undefined) await load(s, requests, o, 2, 0)
      }
    }
    // Short rounds, and the order swapped every other round (guard, baseline, baseline, guard, ...): the load on a
    // shared host drifts over seconds, and this spreads its drift over both servers alike.
    for (let round = 1; round <= o.rounds; round++) {
      for (const s of round % 2 === 1 ? [guard, baseline] : [baseline, guard]) {
        const r = await load(s, requests, o, o.duration, round)
        runs.push(r)
        out(`  round ${round} ${pad(s.name, 8)} ${lpad(r.rps.toFixed(0), 6)} req/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  non-2xx ${r.non2xx}  errors ${r.errors}  server CPU ${r.cpuUsPerRequest.toFixed(1)} µs/req (kernel ${r.systemUsPerRequest.toFixed(1)})${r.generatorLag ? `  generator lag p99 ${r.generatorLag.p99.toFixed(2)} ms, max ${r.generatorLag.max.toFixed(2)}` : ''}`)
      }
    }
    for (const agent of pacedAgents.values()) agent.destroy()
    guardExit = await stopServer(guard)
    await stopServer(baseline)
    await guard.log!.closed
    logBytes = guard.log!.bytes
    logLines = guard.log!.admissionLines
  } catch (e) {
    for (const s of servers) if (s.stderr.length) process.stderr.write(`--- ${s.name} stderr ---\n${s.stderr.join('')}\n`)
    await cleanup()
    throw e
  }

  const g = summarize(runs.filter((r) => r.server === 'guard'))
  const b = summarize(runs.filter((r) => r.server === 'baseline'))
  const throughputRatio = g.rps / b.rps
  const p99Ratio = g.p99 / b.p99
  const p50Ratio = g.p50 / b.p50
  // Each round's two runs, side by side: its ratios, and the rounds the bootstrap interval draws from.
  const pairs = Array.from({ length: o.rounds }, (_, i) => ({
    guard: runs.find((r) => r.server === 'guard' && r.round === i + 1)!,
    baseline: runs.find((r) => r.server === 'baseline' && r.round === i + 1)!,
  }))
  const perRound = pairs.map(({ guard: gr, baseline: br }, i) => ({ round: i + 1, throughputRatio: gr.rps / br.rps, p99Ratio: gr.p99 / br.p99 }))
  const interval = bootstrapInterval(pairs)
  // At a fixed rate both servers answer what they are sent, so their throughput ratio says nothing; what counts
  // there is that each kept up with the rate (5% of slack for the load generator's own timing).
  const keptUp = (x: Summary, rate: number) => x.rps >= 0.95 * rate
  const targets = {
    throughput:
      o.rate === undefined
        ? { target: '>= 0.85', value: throughputRatio, pass: throughputRatio >= 0.85 }
        : { target: `both at >= 0.95 × ${o.rate} req/s`, value: Math.min(g.rps, b.rps), pass: keptUp(g, o.rate) && keptUp(b, o.rate) },
    p99: { target: '<= 1.30', value: p99Ratio, pass: p99Ratio <= 1.3 },
    errors: { target: '0 non-2xx, 0 errors', value: g.non2xx + g.errors + b.non2xx + b.errors, pass: g.non2xx + g.errors + b.non2xx + b.errors === 0 },
  }

  out('')
  out(
    table([
      ['', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'non-2xx', 'errors', 'CPU µs/req'],
      ['guard', g.rps.toFixed(0), g.p50.toFixed(2), g.p99.toFixed(2), String(g.requests), String(g.non2xx), String(g.errors), g.cpuUsPerRequest.toFixed(1)],
      ['baseline', b.rps.toFixed(0), b.p50.toFixed(2), b.p99.toFixed(2), String(b.requests), String(b.non2xx), String(b.errors), b.cpuUsPerRequest.toFixed(1)],
      ['guard/baseline', throughputRatio.toFixed(3), p50Ratio.toFixed(3), p99Ratio.toFixed(3), '', '', '', (g.cpuUsPerRequest / b.cpuUsPerRequest).toFixed(3)],
    ]),
  )
  out(`(req/s over all rounds; p50/p99 and server CPU per request: median of the rounds' values; per-round ratios: ${perRound.map((r) => `${r.throughputRatio.toFixed(3)}/${r.p99Ratio.toFixed(3)}`).join(', ')})`)
  out('')
  if (o.rate === undefined) {
    out(`throughput ratio ${throughputRatio.toFixed(3)} (target ${targets.throughput.target}): ${targets.throughput.pass ? 'PASS' : 'FAIL'}`)
    // What the host's drift between rounds leaves of that figure: a wide interval says run it again, or longer.
    out(`  95% bootstrap interval over the ${o.rounds} rounds: ${interval[0].toFixed(3)}–${interval[1].toFixed(3)}`)
  } else {
    out(`fixed rate       guard ${g.rps.toFixed(0)}, baseline ${b.rps.toFixed(0)} req/s (target ${targets.throughput.target}): ${targets.throughput.pass ? 'PASS' : 'FAIL'}`)
    out(`added latency    p50 ${((g.p50 - b.p50) * 1e3).toFixed(0)} µs, p99 ${((g.p99 - b.p99) * 1e3).toFixed(0)} µs (guard minus baseline)`)
  }
  out(`p99 ratio        ${p99Ratio.toFixed(3)} (target ${targets.p99.target}): ${targets.p99.pass ? 'PASS' : 'FAIL'}`)
  out(`errors           ${targets.errors.value} (target ${targets.errors.target}): ${targets.errors.pass ? 'PASS' : 'FAIL'}`)
  out(`guard log: ${logLines} admission lines, ${(logBytes / 1048576).toFixed(1)} MiB; guard exit code after SIGTERM: ${guardExit}`)
  out(`note: ${cpus().length}-core machine; autocannon (this process) and the server under test share it, so absolute figures are a floor — compare the ratios.`)

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model.trim(), node: process.version, platform: process.platform },
    options: { ...o, out: undefined },
    command: `npm run bench -- --duration ${o.duration} --rounds ${o.rounds} --warmup ${o.warmup} --connections ${o.connections} --namespaces ${o.namespaces}${o.rate !== undefined ? ` --rate ${o.rate}` : ''}`,
    mix: mix.map((m) => ({ path: m.path, label: m.label, expect: m.expect })),
    sanity,
    runs,
    guard: g,
    baseline: b,
    ratios: { throughput: throughputRatio, throughputInterval95: interval, p50: p50Ratio, p99: p99Ratio, perRound },
    targets,
    guardLog: { admissionLines: logLines, bytes: logBytes },
    guardExitCode: guardExit,
  }
  mkdirSync(dirname(o.out), { recursive: true })
  writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n')
  out(`results written to ${o.out}`)
  if (!o.keepLogs) rmSync(work, { recursive: true, force: true })
  else out(`state file and guard log kept in ${work}`)
  if (statSync(o.out).size === 0) return 1
  return targets.throughput.pass && targets.p99.pass && targets.errors.pass ? 0 : 1
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (e) => {
    process.stderr.write(`bench: ${failureText(e)}\n`)
    process.exitCode = 2
  },
)
