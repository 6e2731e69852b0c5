// The image's build stage, run without a Docker engine: the files .dockerignore lets into the build context are
// copied to a temporary directory and the build stage's commands after `COPY . .` run there. A source file the
// build needs but the context leaves out (or a build command that compiles more than the image needs) fails here
// instead of in `docker build`.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** A .dockerignore pattern as a regular expression over slash-separated paths relative to the context root. */
function patternRegex(pattern: string): RegExp {
  let p = pattern.replace(/^\/+/, '').replace(/\/+$/, '')
  let re = ''
  while (p.length > 0) {
    if (p.startsWith('**/')) {
      re += '(?:.*/)?'
      p = p.slice(3)
    } else if (p.startsWith('**')) {
      re += '.*'
      p = p.slice(2)
    } else if (p[0] === '*') {
      re += '[^/]*'
      p = p.slice(1)
    } else if (p[0] === '?') {
      re += '[^/]'
      p = p.slice(1)
    } else {
      re += p[0]!.replace(/[.+^${}()|[\]\\]/g, '\\$&')
      p = p.slice(1)
    }
  }
  return new RegExp(`^${re}$`)
}

/** Docker's rule: a path is left out when a pattern matches it or one of its parent directories. */
export function dockerIgnore(text: string): (path: string) => boolean {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const unsupported = lines.filter((l) => l.startsWith('!') || l.includes('['))
  if (unsupported.length > 0) throw new Error(`.dockerignore syntax this test does not model: ${unsupported.join(', ')}`)
  const patterns = lines.map(patternRegex)
  return (path) => {
    const parts = path.split('/')
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (patterns.some((re) => re.test(prefix))) return true
    }
    return false
  }
}

function contextFiles(ignored: (path: string) => boolean): string[] {
  const out: string[] = []
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(ROOT, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name
      if (ignored(path)) continue
      if (e.isDirectory()) walk(path)
      else if (e.isFile()) out.push(path)
    }
  }
  walk('')
  return out
}

/** The build stage's RUN commands that come after `COPY . .` (the ones that see the sources). */
function buildCommands(dockerfile: string): string[] {
  const stages = dockerfile.split(/^FROM /m).slice(1)
  const build = stages.find((s) => /^\S+ AS build\b/i.test(s))
  if (!build) throw new Error('no build stage (FROM ... AS build) in the Dockerfile')
  const afterCopy = build.split(/^COPY \. \.\s*$/m)[1] ?? ''
  return [...afterCopy.matchAll(/^RUN (.+)$/gm)].map((m) => m[1]!)
}

t.test('.dockerignore patterns, as Docker matches them', async (t) => {
  const ignored = dockerIgnore('# comment\nnode_modules\n*.log\n**/*.key\ntest\n')
  t.ok(ignored('node_modules/x/index.js'), 'a directory takes its contents with it')
  t.ok(ignored('test/rules/a.test.ts'))
  t.ok(ignored('npm-debug.log'), 'root-level glob')
  t.notOk(ignored('logs/app.log'), '*.log is root-level only')
  t.ok(ignored('pki/ca.key'), '**/ matches at any depth')
  t.ok(ignored('ca.key'), '**/ also matches at the root')
  t.notOk(ignored('src/cli.ts'))
  t.notOk(ignored('testing.ts'), 'a name is not a prefix')
  t.throws(() => dockerIgnore('!keep.log'), /does not model/)
})

t.test('the image build stage compiles from the Docker build context alone', async (t) => {
  const ignored = dockerIgnore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'))
  const files = contextFiles(ignored)
  for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'src/cli.ts', 'examples/demo-state.yaml']) {
    t.ok(files.includes(needed), `in the context: ${needed}`)
  }
  for (const secret of files.filter((f) => /\.key$|(^|\/)(tls|ca)\.crt$|(^|\/)secret\.yaml$/.test(f))) t.fail(`key material in the context: ${secret}`)

  const ctx = mkdtempSync(join(tmpdir(), 'netpol-guard-image-'))
  t.teardown(() => rmSync(ctx, { recursive: true, force: true }))
  for (const f of files) {
    mkdirSync(dirname(join(ctx, f)), { recursive: true })
    copyFileSync(join(ROOT, f), join(ctx, f))
  }
  // The stage's `npm ci` installs the lockfile's packages: the repository's own install stands in for it.
  symlinkSync(join(ROOT, 'node_modules'), join(ctx, 'node_modules'), 'dir')

  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const commands = buildCommands(dockerfile)
  t.ok(commands.length > 0, 'the build stage runs something after COPY . .')
  for (const cmd of commands) {
    const r = spawnSync('sh', ['-c', cmd], {
      cwd: ctx,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(ctx, 'node_modules', '.bin')}:${process.env.PATH}` },
    })
    t.equal(r.status, 0, `RUN ${cmd}${r.status ? '\n' + r.stdout + r.stderr : ''}`)
  }
  // What the runtime stage copies out of the build stage exists.
  for (const m of dockerfile.matchAll(/^COPY --from=build \/app\/(\S+)/gm)) t.ok(existsSync(join(ctx, m[1]!)), `built: ${m[1]}`)
  const help = spawnSync(process.execPath, [join(ctx, 'dist', 'cli.js'), '--help'], { encoding: 'utf8' })
  t.equal(help.status, 0, 'the entrypoint runs')
  t.match(help.stdout, /netpol-guard serve/)
})

t.test('the benchmarks run the guard with the environment of the image', async (t) => {
  const { dockerfileEnv, imageEnv } = await import('../bench/image-env.js')
  const env = imageEnv()
  t.equal(env.NODE_ENV, 'production')
  t.equal(env.MALLOC_ARENA_MAX, '2')
  t.equal(env.MALLOC_TRIM_THRESHOLD_, '131072')
  t.equal(env.MALLOC_MMAP_THRESHOLD_, '131072')
  // Only the last stage's ENV counts: the build stage's does not reach the running image.
  t.same(dockerfileEnv('FROM a AS build\nENV X=1\nFROM b\nENV Y=2\n# ENV Z=3\nENV  W=4 \n'), { Y: '2', W: '4' })
})
