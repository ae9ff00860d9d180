/**
 * JSON schemas for kubeconform, generated from the API server's own OpenAPI v2 document: one file per
 * kind, named `<kind>_<group>_<version>.json` (kubeconform's `{{ .ResourceKind }}_{{ .Group }}_{{
 * .ResourceAPIVersion }}` template; core kinds are `<kind>_v1_v1.json`), holding only the definitions
 * that kind uses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type Schema = Record<string, any>;

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** Kubernetes' int-or-string is a string in OpenAPI v2; manifests write ports as numbers. */
function rewrite(schema: Schema): Schema {
  if (Array.isArray(schema)) return schema.map(rewrite);
  if (schema === null || typeof schema !== 'object') return schema;
  if (schema.format === 'int-or-string') {
    const { type: _type, format: _format, ...rest } = schema;
    return { ...rest, oneOf: [{ type: 'string' }, { type: 'integer' }] };
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) out[key] = key === 'properties' ? mapValues(value, rewrite) : rewrite(value);
  // Strict: an object with declared properties admits no other key (kubeconform -strict relies on it too).
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

function mapValues(record: Schema, map: (value: Schema) => Schema): Schema {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, map(v)]));
}

function referencedDefinitions(definitions: Schema, root: string): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') visit(value.replace('#/definitions/', ''));
          else walk(value);
        }
      }
    };
    walk(definitions[name]);
  };
  visit(root);
  return seen;
}

/** Writes a schema for each kind in `kinds` (or every kind when omitted); returns the file count. */
export function writeKubeconformSchemas(openapi: Schema, outdir: string, kinds?: ReadonlySet<string>): number {
  fs.mkdirSync(outdir, { recursive: true });
  const definitions: Schema = openapi.definitions;
  let written = 0;
  for (const [name, definition] of Object.entries(definitions)) {
    const gvks: GroupVersionKind[] = (definition as Schema)['x-kubernetes-group-version-kind'] ?? [];
    for (const gvk of gvks) {
      if (kinds && !kinds.has(gvk.kind)) continue;
      const used = referencedDefinitions(definitions, name);
      const schema = {
        $schema: 'http://json-schema.org/draft-04/schema#',
        $ref: `#/definitions/${name}`,
        definitions: Object.fromEntries([...used].map((d) => [d, rewrite(definitions[d])])),
      };
      // kubeconform's {{ .Group }} of a core kind ("v1") is the version itself.
      const file = `${gvk.kind.toLowerCase()}_${gvk.group || gvk.version}_${gvk.version}.json`;
      fs.writeFileSync(path.join(outdir, file), JSON.stringify(schema));
      written++;
    }
  }
  return written;
}
