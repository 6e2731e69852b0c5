// The environment the image gives the guard (the ENV lines of the Dockerfile's last stage), so that the benchmarks
// run the guard as it is deployed: the malloc settings there change its RSS by ~10 MiB after a large initial list.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The package root: the nearest directory above this file holding package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir
    const up = dirname(dir)
    if (up === dir) throw new Error('package.json not found above ' + from)
    dir = up
  }
}

/** `ENV NAME=value` lines (one variable each) of the Dockerfile's last stage. */
export function dockerfileEnv(text: string): Record<string, string> {
  const stages = text.split(/^FROM\s/m)
  const last = stages[stages.length - 1] ?? ''
  const env: Record<string, string> = {}
  for (const m of last.matchAll(/^ENV\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)\s*$/gm)) env[m[1]!] = m[2]!
  return env
}

/** The image's environment, read from the package's Dockerfile. */
export function imageEnv(): Record<string, string> {
  return dockerfileEnv(readFileSync(join(packageRoot(), 'Dockerfile'), 'utf8'))
}
