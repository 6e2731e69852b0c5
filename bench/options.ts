// Command-line options shared by the benchmarks.

/** A flag with a bad value: reported in one line, not with a stack trace. */
export class OptionError extends Error {}

/** A numeric flag's value, refused with a message naming the flag when it is not a number of at least `min`. */
export function numberOption(name: string, value: string | undefined, min: number): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < min) throw new OptionError(`--${name} must be a number >= ${min}, not "${value}"`)
  return n
}

/** What a benchmark prints when it fails: the message of a bad flag (ours, or node:util parseArgs'), else the stack. */
export function failureText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  if (e instanceof OptionError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) return `${(e as Error).message} (--help lists the flags)`
  return (e as Error | undefined)?.stack ?? String(e)
}
