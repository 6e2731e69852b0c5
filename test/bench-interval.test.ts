// The bench's bootstrap interval of the throughput ratio (bench/interval.ts).
import t from 'tap'
import { bootstrapInterval, throughputRatio, type RoundPair } from '../bench/interval.js'

const pair = (g: number, b: number): RoundPair => ({ guard: { requests: g, seconds: 5 }, baseline: { requests: b, seconds: 5 } })

t.test('the ratio is of the totals, as the bench reports it', async (t) => {
  t.equal(throughputRatio([pair(90, 100), pair(45, 100)]), 135 / 200)
  t.equal(throughputRatio([{ guard: { requests: 100, seconds: 10 }, baseline: { requests: 100, seconds: 5 } }]), 0.5)
})

t.test('rounds that agree give a narrow interval, rounds that scatter a wide one around the ratio', async (t) => {
  for (const bound of bootstrapInterval([pair(90, 100), pair(180, 200), pair(45, 50)])) t.ok(Math.abs(bound - 0.9) < 1e-12, `${bound} is 0.9`)
  const scattered = [pair(50, 100), pair(60, 100), pair(80, 100), pair(100, 100), pair(120, 100), pair(90, 100)]
  const [lo, hi] = bootstrapInterval(scattered)
  const r = throughputRatio(scattered)
  t.ok(lo < r && r < hi, `${lo} < ${r} < ${hi}`)
  t.ok(lo >= 0.5 && hi <= 1.2, 'within the rounds\' own range')
  t.ok(hi - lo > 0.1, 'wide')
  t.same(bootstrapInterval(scattered), [lo, hi], 'the same rounds, the same interval')
  t.same(bootstrapInterval([]), [NaN, NaN])
})
