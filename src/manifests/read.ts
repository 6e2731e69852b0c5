// Reading Kubernetes YAML/JSON files: several documents, or `kind: List` (or *List) with items.
import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { isRecord, type KubeObject } from '../k8s/types.js'

export class ManifestError extends Error {}

/** Every object in the text, Lists flattened, in order. `source` names the file in errors. */
export function parseObjects(text: string, source: string): KubeObject[] {
  const out: KubeObject[] = []
  const json = parseJson(text)
  if (json) {
    const twice = duplicateKey(text)
    if (twice !== undefined) throw new ManifestError(`${source}: document 1: not valid JSON: key ${JSON.stringify(twice)} appears twice in one object`)
    flatten(json.value, `${source}: document 1`, out)
    return out
  }
  // A key twice in one mapping is an error, as kubectl's strict field validation has it, rather than the last one
  // silently winning (two `metadata:` blocks would check an object other than the one the author meant).
  const docs = parseAllDocuments(text, { uniqueKeys: true })
  const list = Array.isArray(docs) ? docs : [docs]
  list.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!
      throw new ManifestError(`${source}: document ${i + 1}: not valid YAML/JSON: ${e.message.split('\n')[0]!.replace(/:$/, '')}`)
    }
    let value: unknown
    try {
      value = doc.toJS({ maxAliasCount: 100 })
    } catch (e) {
      // An alias to nothing, or more alias expansions than a manifest needs (a "billion laughs" file): bad input.
      throw new ManifestError(`${source}: document ${i + 1}: not valid YAML: ${(e as Error).message.split('\n')[0]}`)
    }
    if (value === null || value === undefined) return
    flatten(value, `${source}: document ${i + 1}`, out)
  })
  return out
}

// JSON (`kubectl get -o json`) is read with JSON.parse: the same values the YAML parser gives for it (JSON is
// YAML), without the YAML document tree, whose nodes take ~80 times the text. For the state file of `npm run bench`
// (1,000 namespaces, 0.8 MB) that tree left ~65 MB of dead objects in the old generation of `serve`, which no
// collection reclaimed under steady load, and each scavenge took ~0.1 ms longer with them (0.68 against 0.58 ms;
// 1-3% of throughput). Text that is not JSON (YAML, including a flow mapping such as `{kind: List}`) goes to the
// YAML parser, which also words the errors.
function parseJson(text: string): { value: unknown } | undefined {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (!/^\s*[{[]/.test(body)) return undefined
  try {
    return { value: JSON.parse(body) as unknown }
  } catch {
    return undefined
  }
}

/**
 * The first key written twice in one object of `text` (JSON that JSON.parse has taken, where the last one silently
 * wins), or undefined: refused as the YAML path refuses it. One pass over the text, a set of keys per open object.
 */
export function duplicateKey(text: string): string | undefined {
  const open: (Set<string> | null)[] = [] // one entry per open object (its keys) or array (null)
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      let end = i + 1
      let escaped = false
      for (; end < text.length; end++) {
        const d = text.charCodeAt(end)
        if (d === 0x5c) {
          escaped = true
          end++
        } else if (d === 0x22) break
      }
      const keys = open[open.length - 1]
      if (keys) {
        let next = end + 1
        while (next < text.length && /\s/.test(text[next]!)) next++
        if (text.charCodeAt(next) === 0x3a) {
          // A key: compared as JSON reads it ("\u0061" is "a").
          const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end)
          if (keys.has(key)) return key
          keys.add(key)
        }
      }
      i = end
    } else if (c === 0x7b) open.push(new Set())
    else if (c === 0x5b) open.push(null)
    else if (c === 0x7d || c === 0x5d) open.pop()
  }
  return undefined
}

function flatten(value: unknown, where: string, out: KubeObject[]): void {
  if (!isRecord(value)) throw new ManifestError(`${where}: expected a Kubernetes object (a mapping), got ${Array.isArray(value) ? 'a list' : typeof value}`)
  if (typeof value.kind === 'string' && value.kind.endsWith('List') && value.items !== undefined) {
    if (!Array.isArray(value.items)) throw new ManifestError(`${where}: ${value.kind} items must be a list, got ${value.items === null ? 'null' : typeof value.items}`)
    value.items.forEach((item, j) => flatten(item, `${where} item ${j + 1}`, out))
    return
  }
  // `kind: List` with no items is an empty list (kubectl prints `items: []`, but hand-written files may leave it out).
  if (value.kind === 'List' && value.apiVersion === 'v1') return
  if (typeof value.kind !== 'string' || !value.kind) throw new ManifestError(`${where}: object has no kind`)
  if (typeof value.apiVersion !== 'string' || !value.apiVersion) throw new ManifestError(`${where}: ${value.kind} has no apiVersion`)
  out.push(value as KubeObject)
}

export function readObjectsFile(path: string): KubeObject[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new ManifestError(`${path}: cannot read file${code ? ` (${code})` : ''}`)
  }
  return parseObjects(text, path)
}
