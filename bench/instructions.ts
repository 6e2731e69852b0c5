// `npm run bench:instructions`: instructions per request of the guard and of the bare Fastify baseline, counted by
// valgrind (callgrind), over the same request mix as `npm run bench`.
//
// Wall-clock figures on a shared 2-core host move with whatever else runs there; an instruction count does not. Each
// server runs under `valgrind --tool=callgrind` with counting off while it starts and warms up (its code compiled by
// V8's optimizing tiers); then counting is switched on for an interval of R requests at a time (callgrind_control),
// and each interval's count is divided by R, one server at a time. Both run with `node --single-threaded` (V8
// compiles and collects garbage on the main thread) and `--no-memory-reducer`, so that no background thread and no
// wall-clock timer of V8's moves a count. What is counted is user-space
// instructions: the kernel's share (socket and log writes) is not in it, nor are cache misses, which is what a
// wall-clock ratio adds on top on a busy host (bench/README.md, "Instructions per request").
//
// Flags: --namespaces N (1000), --warmup R (12000 requests), --requests R (2000 per interval), --intervals K (5),
//        --concurrency C (4 keep-alive connections), --out FILE (bench/results/instructions.json), --keep (callgrind files).
import { execFile, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent } from 'node:https'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { packageRoot } from './image-env.js'
import { median } from './interval.js'
import { failureText, numberOption } from './options.js'
import { builtScripts, postJson, sanityCheck, startBaseline, startGuard, stopServer, waitFor, type Launch, type Server } from './servers.js'
import { generateState, requestMix } from './workload.js'

const run = promisify(execFile)

interface Options {
  namespaces: number
  warmup: number
  requests: number
  intervals: number
  concurrency: number
  out: string
  keep: boolean
}

function options(root: string): Options {
  const { values } = parseArgs({
    options: {
      namespaces: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '12000' },
      requests: { type: 'string', default: '2000' },
      intervals: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '4' },
      out: { type: 'string', default: join(root, 'bench', 'results', 'instructions.json') },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write('usage: npm run bench:instructions -- [--namespaces N] [--warmup R] [--requests R] [--intervals K] [--concurrency C] [--out FILE] [--keep]\n')
    process.exit(0)
  }
  return {
    namespaces: Math.floor(numberOption('namespaces', values.namespaces, 10)),
    warmup: Math.floor(numberOption('warmup', values.warmup, 0)),
    requests: Math.floor(numberOption('requests', values.requests, 1)),
    intervals: Math.floor(numberOption('intervals', values.intervals, 1)),
    concurrency: Math.floor(numberOption('concurrency', values.concurrency, 1)),
    out: resolve(values.out!),
    keep: values.keep === true,
  }
}

/** The instruction count (Ir) of a callgrind dump: its `totals:` line, or `summary:` in older formats. */
export function dumpInstructions(text: string): number {
  const m = /^(?:totals|summary):\s+(\d+)/m.exec(text)
  if (!m) throw new Error('not a callgrind dump: no totals line')
  return Number(m[1])
}

/**
 * The k-th dump callgrind writes for a process (PREFIX.PID.k). callgrind_control returns once the dump is asked for,
 * not once it is written: the file is read when its totals line, the last one, is there.
 */
async function readDump(dir: string, prefix: string, pid: string, k: number): Promise<string> {
  const file = join(dir, `${prefix}.${pid}.${k}`)
  return waitFor(`callgrind's dump ${file}, in full`, 120_000, () => {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : ''
    return /^(?:totals|summary):\s+\d+\n/m.test(text) ? text : undefined
  })
}

/** One request of the mix, its body serialized once. */
interface Posted {
  label: string
  path: string
  body: string
}

/** Sends `count` requests of the mix (cycling from `start`) over `agent`'s keep-alive connections, `concurrency` at a time. */
async function drive(port: number, agent: Agent, posts: Posted[], count: number, concurrency: number, start: number): Promise<string[]> {
  let sent = 0
  const failed: string[] = []
  const one = async (i: number) => {
    const p = posts[i % posts.length]!
    try {
      const { status } = await postJson(port, `${p.path}?timeout=10s`, p.body, agent)
      if (status !== 200) failed.push(`${p.label}: HTTP ${status}`)
    } catch (e) {
      failed.push(`${p.label}: ${(e as Error).message}`)
    }
  }
  const worker = async () => {
    while (sent < count) await one(start + sent++)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return failed
}

interface Measured {
  server: 'guard' | 'baseline'
  /** instructions per request of each interval */
  perRequest: number[]
  median: number
  failed: string[]
}

async function measure(s: Server, prefix: string, work: string, posts: Posted[], o: Options, out: (line: string) => void): Promise<Measured> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency, rejectUnauthorized: false })
  const pid = String(s.child.pid)
  const control = (...args: string[]) => run('callgrind_control', [...args, pid])
  const failed: string[] = []
  let next = 0
  failed.push(...(await drive(s.port, agent, posts, o.warmup, o.concurrency, next)))
  next += o.warmup
  out(`  ${s.name}: warmed up with ${o.warmup} requests`)
  const perRequest: number[] = []
  for (let k = 1; k <= o.intervals; k++) {
    await control('--instr=on')
    await control('--zero')
    failed.push(...(await drive(s.port, agent, posts, o.requests, o.concurrency, next)))
    next += o.requests
    await control('--dump')
    await control('--instr=off')
    const per = dumpInstructions(await readDump(work, prefix, pid, k)) / o.requests
    perRequest.push(per)
    out(`  ${s.name}: interval ${k}: ${Math.round(per)} instructions per request`)
  }
  agent.destroy()
  return { server: s.name, perRequest, median: median(perRequest), failed }
}

async function main(): Promise<number> {
  const root = packageRoot()
  const o = options(root)
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (Debian: apt-get install valgrind); it counts the instructions')
  const { cli, baselineScript } = builtScripts()
  const work = mkdtempSync(join(tmpdir(), 'netpol-guard-instructions-'))
  const stateFile = join(work, 'state.json')
  writeFileSync(stateFile, JSON.stringify(generateState(o.namespaces)))
  const mix = requestMix(o.namespaces)
  const out = (s: string) => process.stdout.write(s + '\n')
  const launch = (name: string): Launch => ({
    wrapper: ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(work, name)}.%p`],
    // V8's memory reducer starts a full collection when the allocation rate in wall-clock time is low, which under
    // valgrind (~50× slower) it always is: without it, full collections come as the heap grows, as they do in service.
    nodeFlags: ['--single-threaded', '--no-memory-reducer'],
    startMs: 300_000,
  })
  out(`netpol-guard bench:instructions: node ${process.version}, ${cpus()[0]?.model.trim() ?? '?'}; valgrind --tool=callgrind, node --single-threaded --no-memory-reducer`)
  out(`  guard: ${o.namespaces} namespaces, default logging (info) to a pipe; baseline: bare Fastify HTTPS, fixed answer`)
  out(`  ${o.concurrency} keep-alive connections each; ${o.warmup} requests of warm-up, then ${o.intervals} × ${o.requests} counted; one server at a time`)

  const servers: Server[] = []
  let results: Measured[]
  try {
    const [guard, baseline] = await Promise.all([
      startGuard(cli, stateFile, work, 'info', launch('guard')),
      startBaseline(baselineScript, launch('baseline')),
    ])
    servers.push(guard, baseline)
    const sanity = await sanityCheck(guard.port, mix)
    out(`  sanity: ${Object.entries(sanity).map(([k, v]) => `${k} ×${v}`).join('; ')}`)
    // One at a time: the two at once read a few percent apart from run to run, the guard more (its log is written
    // once per turn of the event loop, and how many requests a turn holds depends on how fast the server runs).
    const posts = mix.map((m) => ({ label: m.label, path: m.path, body: JSON.stringify(m.review) }))
    results = [await measure(guard, 'guard', work, posts, o, out), await measure(baseline, 'baseline', work, posts, o, out)]
  } finally {
    for (const s of servers) await stopServer(s).catch(() => undefined)
  }
  const [g, b] = results
  const ratio = g!.median / b!.median
  const failures = [...g!.failed, ...b!.failed]
  out('')
  out(`guard     ${Math.round(g!.median)} instructions per request (median of ${o.intervals} intervals: ${g!.perRequest.map(Math.round).join(', ')})`)
  out(`baseline  ${Math.round(b!.median)} instructions per request (median of ${o.intervals} intervals: ${b!.perRequest.map(Math.round).join(', ')})`)
  out(`guard/baseline ${ratio.toFixed(3)}; failed requests: ${failures.length}${failures.length ? ' (' + failures.slice(0, 5).join('; ') + ')' : ''}`)
  const result = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model.trim(), node: process.version },
    options: { ...o, out: undefined },
    guard: g,
    baseline: b,
    ratio,
  }
  mkdirSync(dirname(o.out), { recursive: true })
  writeFileSync(o.out, JSON.stringify(result, null, 2) + '\n')
  out(`results written to ${o.out}`)
  if (o.keep) out(`callgrind dumps kept in ${work} (callgrind_annotate FILE)`)
  else rmSync(work, { recursive: true, force: true })
  return failures.length === 0 ? 0 : 1
}

// Run only as a program, not when a test imports dumpInstructions.
if (process.argv[1] && existsSync(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (e) => {
      process.stderr.write(`bench:instructions: ${failureText(e)}\n`)
      process.exitCode = 2
    },
  )
}
