// bench:instructions reads its counts from callgrind's dumps (bench/instructions.ts).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dumpInstructions } from '../bench/instructions.js'
import { median } from '../bench/interval.js'

t.test('the count is the totals line of a dump', async (t) => {
  t.equal(dumpInstructions('version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nfn=(1) main\n16 3\ntotals: 123456789\n'), 123456789)
  t.equal(dumpInstructions('events: Ir\nsummary: 42\n'), 42)
  t.throws(() => dumpInstructions('events: Ir\nfn=(1) main\n'), /not a callgrind dump/)
})

t.test('a real dump: more work, more instructions', { skip: spawnSync('valgrind', ['--version']).status === 0 ? false : 'valgrind is not installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'callgrind-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const count = (name: string, script: string) => {
    const file = join(dir, name)
    const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${file}`, '/bin/sh', '-c', script], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
    return dumpInstructions(readFileSync(file, 'utf8'))
  }
  const little = count('little', 'true')
  const more = count('more', 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done')
  t.ok(little > 0, `${little} instructions`)
  t.ok(more > little * 1.5, `${more} > ${little}`)
})

t.test('median', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
})
