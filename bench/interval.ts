// How far one run's throughput ratio can be trusted on a noisy host: a bootstrap interval over its rounds.

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** One round of each server: requests answered in the same number of seconds. */
export interface RoundPair {
  guard: { requests: number; seconds: number }
  baseline: { requests: number; seconds: number }
}

/** The ratio of the guard's req/s to the baseline's over a set of rounds (the figure `npm run bench` reports). */
export function throughputRatio(pairs: readonly RoundPair[]): number {
  let g = 0
  let gs = 0
  let b = 0
  let bs = 0
  for (const p of pairs) {
    g += p.guard.requests
    gs += p.guard.seconds
    b += p.baseline.requests
    bs += p.baseline.seconds
  }
  return g / gs / (b / bs)
}

/**
 * The central 95% of the throughput ratio over rounds drawn with replacement (the pairs of one round stay
 * together, as they ran side by side): the spread the host's drift from round to round gives one run's figure.
 * Seeded, so that the same rounds give the same interval.
 */
export function bootstrapInterval(pairs: readonly RoundPair[], draws = 4000, seed = 0x2545f491): [number, number] {
  if (pairs.length === 0) return [NaN, NaN]
  let s = seed >>> 0 || 1
  const next = (): number => {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    return (s >>> 0) / 2 ** 32
  }
  const ratios = new Float64Array(draws)
  const sample: RoundPair[] = new Array<RoundPair>(pairs.length)
  for (let d = 0; d < draws; d++) {
    for (let i = 0; i < pairs.length; i++) sample[i] = pairs[Math.floor(next() * pairs.length)]!
    ratios[d] = throughputRatio(sample)
  }
  ratios.sort()
  return [ratios[Math.floor(draws * 0.025)]!, ratios[Math.ceil(draws * 0.975) - 1]!]
}
