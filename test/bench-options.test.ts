// The benchmarks' flags (bench/options.ts): a bad value is named in one line, other failures keep their stack.
import t from 'tap'
import { parseArgs } from 'node:util'
import { failureText, numberOption, OptionError } from '../bench/options.js'

t.test('numberOption takes a number of at least the minimum and names the flag otherwise', async (t) => {
  t.equal(numberOption('rate', '250', 1), 250)
  t.equal(numberOption('warmup', '0', 0), 0)
  for (const bad of ['0', 'x', '', undefined]) t.throws(() => numberOption('rate', bad, 1), new OptionError(`--rate must be a number >= 1, not "${bad}"`))
})

t.test('failureText: one line for a bad flag, the stack for anything else', async (t) => {
  const flag = (() => {
    try {
      numberOption('rounds', 'many', 1)
    } catch (e) {
      return e
    }
  })()
  t.equal(failureText(flag), '--rounds must be a number >= 1, not "many" (--help lists the flags)')
  const unknown = (() => {
    try {
      parseArgs({ args: ['--bogus'], options: {} })
    } catch (e) {
      return e
    }
  })()
  t.match(failureText(unknown), /^Unknown option '--bogus'[^\n]* \(--help lists the flags\)$/, "parseArgs' own message, no stack")
  const crash = new Error('server did not start')
  t.match(failureText(crash), /^Error: server did not start\n\s+at /, 'a real failure keeps its stack')
  t.equal(failureText('plain'), 'plain')
})
