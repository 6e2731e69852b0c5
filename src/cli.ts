#!/usr/bin/env node
// netpol-guard command line: serve, check, audit, vap. Flags follow ../CONTRACT (README "Configuration").
import { existsSync, readFileSync, realpathSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { text } from 'node:stream/consumers'
import { parseArgs } from 'node:util'
import { checkObjects, formatText, summarize } from './check.js'
import { ConfigError, defaultConfig, loadConfigFile, type GuardConfig, type Mode } from './config.js'
import { ManifestError, parseObjects, readObjectsFile } from './manifests/read.js'
import { StateFileError, loadStateFile } from './view/state-file.js'
import { MemoryView } from './view/memory-view.js'

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), existsSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'package.json')) ? '..' : '../..')
export const DEMO_STATE = join(PACKAGE_ROOT, 'examples', 'demo-state.yaml')
const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace'

export class UsageError extends Error {}

/** serve cannot start (TLS files, address in use): a one-line message and exit code 2. */
export class StartupError extends Error {}

const USAGE = `netpol-guard: keeps a deny-all NetworkPolicy in every namespace and refuses cluster-wide network policies

Usage:
  netpol-guard serve [--host H] [--port P] [--tls-cert F --tls-key F] [--mode enforce|dry-run]
                     [--state FILE | --kubeconfig FILE] [--namespace NAME] [--config FILE] [--max-connections N]
  netpol-guard check [--state FILE] [--mode enforce|dry-run] [--config FILE] [--namespace NAME] [-o|--output text|json] FILE... (- is stdin)
  netpol-guard audit [--kubeconfig FILE] [--config FILE] [--namespace NAME] [-o|--output table|json]
  netpol-guard vap   [--mode enforce|dry-run] [--config FILE]

Environment: NETPOL_GUARD_HOST, _PORT, _TLS_CERT, _TLS_KEY, _MODE, _STATE, _NAMESPACE, _CONFIG, _MAX_CONNECTIONS, KUBECONFIG, LOG_LEVEL,
POD_NAME (serve: this replica's identity in the leader Lease).
Exit codes: 0 ok, 1 something denied / non-compliant, 2 bad input or usage.`

function env(name: string): string | undefined {
  const v = process.env[`NETPOL_GUARD_${name}`]
  return v === undefined || v === '' ? undefined : v
}

function parseMode(v: string | undefined, fallback: Mode): Mode {
  if (v === undefined) return fallback
  if (v !== 'enforce' && v !== 'dry-run') throw new UsageError(`--mode must be enforce or dry-run, not "${v}"`)
  return v
}

function defaultNamespace(): string {
  try {
    const ns = readFileSync(SA_NAMESPACE_FILE, 'utf8').trim()
    if (ns) return ns
  } catch {
    // not in a pod
  }
  return 'netpol-guard'
}

/** A namespace name as Kubernetes takes it (an RFC 1123 label). */
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

/** Config from defaults, the --config file, then flags (flags win). */
export function resolveConfig(values: { config?: string; mode?: string; namespace?: string }): GuardConfig {
  const [namespace, from] =
    values.namespace !== undefined ? [values.namespace, '--namespace'] : env('NAMESPACE') !== undefined ? [env('NAMESPACE')!, 'NETPOL_GUARD_NAMESPACE'] : [defaultNamespace(), SA_NAMESPACE_FILE]
  if (!NAMESPACE_NAME.test(namespace)) throw new UsageError(`${from} must be a namespace name (lower-case letters, digits and '-', at most 63), not "${namespace}"`)
  const base = defaultConfig({ namespace })
  const path = values.config ?? env('CONFIG')
  const cfg = path ? loadConfigFile(path, base) : base
  cfg.mode = parseMode(values.mode ?? env('MODE'), cfg.mode)
  return cfg
}

type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; default?: string }>

function parse(args: string[], options: OptionSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals }
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
}

export interface Io {
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream
  /** Read when a FILE is `-` (default: process.stdin). */
  in?: NodeJS.ReadableStream
}

async function checkCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    state: { type: 'string' },
    mode: { type: 'string' },
    config: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'text' },
    namespace: { type: 'string' },
  })
  if (values.help) return io.out.write(USAGE + '\n'), 0
  if (positionals.length === 0) throw new UsageError('check needs at least one manifest FILE')
  const output = values.output as string
  if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not "${output}"`)
  const config = resolveConfig({ config: values.config as string | undefined, mode: values.mode as string | undefined, namespace: (values.namespace as string | undefined) ?? 'netpol-guard' })
  const view = values.state ? loadStateFile(values.state as string).view : new MemoryView()
  // `-` is standard input (`helm template ... | netpol-guard check -`), read once however often it is named.
  const stdin = positionals.includes('-') ? await text(io.in ?? process.stdin) : ''
  const objects = positionals.flatMap((file) => (file === '-' ? parseObjects(stdin, '(stdin)') : readObjectsFile(file)).map((object) => ({ source: file, object })))
  const results = checkObjects(objects, { config, view })
  const sum = summarize(results)
  if (output === 'json') io.out.write(JSON.stringify({ mode: config.mode, results, summary: sum }, null, 2) + '\n')
  else {
    for (const r of results) io.out.write(formatText(r) + '\n')
    io.err.write(`${results.length} objects: ${sum.allowed} allowed, ${sum.warned} warned, ${sum.denied} denied\n`)
  }
  return sum.denied > 0 ? 1 : 0
}

/** A command that takes only flags: a stray word is a mistake (a flag's value without its flag, a typo), not ignored. */
export function noArguments(command: string, positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`${command} takes no arguments, only flags: "${positionals[0]}"`)
}

async function auditCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    kubeconfig: { type: 'string' },
    config: { type: 'string' },
    output: { type: 'string', short: 'o', default: 'table' },
    namespace: { type: 'string' },
  })
  if (values.help) return io.out.write(USAGE + '\n'), 0
  noArguments('audit', positionals)
  const output = values.output as string
  if (output !== 'table' && output !== 'json') throw new UsageError(`--output must be table or json, not "${output}"`)
  const config = resolveConfig({ config: values.config as string | undefined, namespace: values.namespace as string | undefined })
  const audit = await import('./audit.js')
  const kubeconfigPath = (values.kubeconfig as string | undefined) ?? process.env.KUBECONFIG
  return audit.auditCommand({ ...(kubeconfigPath ? { kubeconfigPath } : {}), output, config }, io.out)
}

async function vapCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { mode: { type: 'string' }, config: { type: 'string' } })
  if (values.help) return io.out.write(USAGE + '\n'), 0
  noArguments('vap', positionals)
  const config = resolveConfig({ config: values.config as string | undefined, mode: values.mode as string | undefined })
  if (!config.rules['no-global-policy']) throw new UsageError('the config switches no-global-policy off: there is no policy to render')
  if (config.clusterWideKinds.length === 0) throw new UsageError('the config lists no clusterWideKinds: there is no policy to render')
  const { renderVap } = await import('./vap.js')
  io.out.write(renderVap({ kinds: config.clusterWideKinds, mode: config.mode }))
  return 0
}

export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'serve': {
        const { serveCommand } = await import('./serve.js')
        return await serveCommand(rest, io)
      }
      case 'check':
        return await checkCommand(rest, io)
      case 'audit':
        return await auditCommand(rest, io)
      case 'vap':
        return await vapCommand(rest, io)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out.write(USAGE + '\n')
        return command === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command "${command}"`)
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err.write(`netpol-guard: ${e.message}\n\n${USAGE}\n`)
      return 2
    }
    if (e instanceof ConfigError || e instanceof StateFileError || e instanceof ManifestError || e instanceof StartupError) {
      io.err.write(`netpol-guard: ${e.message}\n`)
      return 2
    }
    throw e
  }
}

export { parse as parseCliArgs, parseMode, env as readEnv }

function invokedDirectly(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
  } catch {
    return false
  }
}
if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      // serve keeps running; the other commands end here.
      if (code !== -1) process.exitCode = code
    },
    (e) => {
      process.stderr.write(`netpol-guard: ${(e as Error).stack ?? e}\n`)
      process.exitCode = 1
    },
  )
}
