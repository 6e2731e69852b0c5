// Reading Kubernetes YAML/JSON files: several documents, or `kind: List` (or *List) with items.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../k8s/types.js';
export class ManifestError extends Error {
}
/** Every object in the text, Lists flattened, in order. `source` names the file in errors. */
export function parseObjects(text, source) {
    const out = [];
    const docs = parseAllDocuments(text, { uniqueKeys: false });
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, i) => {
        if (doc.errors.length > 0) {
            const e = doc.errors[0];
            throw new ManifestError(`${source}: document ${i + 1}: not valid YAML/JSON: ${e.message.split('\n')[0]}`);
        }
        const value = doc.toJS({ maxAliasCount: 100 });
        if (value === null || value === undefined)
            return;
        flatten(value, `${source}: document ${i + 1}`, out);
    });
    return out;
}
function flatten(value, where, out) {
    if (!isRecord(value))
        throw new ManifestError(`${where}: expected a Kubernetes object (a mapping), got ${Array.isArray(value) ? 'a list' : typeof value}`);
    if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
        value.items.forEach((item, j) => flatten(item, `${where} item ${j + 1}`, out));
        return;
    }
    if (typeof value.kind !== 'string' || !value.kind)
        throw new ManifestError(`${where}: object has no kind`);
    if (typeof value.apiVersion !== 'string' || !value.apiVersion)
        throw new ManifestError(`${where}: ${value.kind} has no apiVersion`);
    out.push(value);
}
export function readObjectsFile(path) {
    let text;
    try {
        text = readFileSync(path, 'utf8');
    }
    catch (e) {
        const code = e.code;
        throw new ManifestError(`${path}: cannot read file${code ? ` (${code})` : ''}`);
    }
    return parseObjects(text, path);
}
//# sourceMappingURL=read.js.map