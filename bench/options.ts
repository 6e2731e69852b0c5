// Command-line options shared by the benchmarks.

/** A numeric flag's value, refused with a message naming the flag when it is not a number of at least `min`. */
export function numberOption(name: string, value: string | undefined, min: number): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, not "${value}"`)
  return n
}
