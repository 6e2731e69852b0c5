// Runs the CLI in-process, as a user would from a shell: its exit code, what it wrote, and optional standard input.
import { PassThrough } from 'node:stream'
import { main } from '../../src/cli.js'

export async function runCli(args: string[], input?: string) {
  const out = new PassThrough()
  const err = new PassThrough()
  let stdout = ''
  let stderr = ''
  out.on('data', (d) => (stdout += d))
  err.on('data', (d) => (stderr += d))
  const code = await main(args, { out, err, ...(input !== undefined ? { in: PassThrough.from([input]) } : {}) })
  return { code, stdout, stderr, lines: stdout.trim().split('\n').filter(Boolean) }
}
