/**
 * site/site-config.schema.json, the JSON Schema editors use to complete and check the site file: it is
 * what `npm run schema` generates from the zod schema now (never hand-edited, never stale), every site
 * file names it in its first line, and it accepts every key the Javisi site uses and refuses a typo.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { SITE_SCHEMA_FILE, SITE_SCHEMA_MODELINE, siteConfigJsonSchema } from '../lib/config/site-schema';
import { Manifest, REPO_ROOT } from './helpers';

const SITE_DIR = path.join(REPO_ROOT, 'site');
const siteFiles = fs
  .readdirSync(SITE_DIR)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const committed = fs.readFileSync(path.join(REPO_ROOT, SITE_SCHEMA_FILE), 'utf8');

/**
 * The keys of a YAML tree that the schema does not allow where they are (a key check, not a validator:
 * the synth is that). Follows properties, items and the branches of anyOf/oneOf/allOf.
 */
function unknownKeys(schema: Manifest, value: unknown, at = ''): string[] {
  const branches: Manifest[] = [schema, ...['anyOf', 'oneOf', 'allOf'].flatMap((k) => schema[k] ?? [])];
  if (Array.isArray(value)) {
    const items = branches.map((b) => b.items).filter(Boolean);
    return value.flatMap((v, i) => fewest(items.map((s) => unknownKeys(s, v, `${at}[${i}]`))));
  }
  if (value === null || typeof value !== 'object') return [];
  const objects = branches.filter((b) => b.properties || b.additionalProperties !== undefined);
  return fewest(
    objects.map((object) =>
      Object.entries(value).flatMap(([key, v]) => {
        const where = at ? `${at}.${key}` : key;
        const property =
          object.properties?.[key] ?? (typeof object.additionalProperties === 'object' ? object.additionalProperties : undefined);
        if (property) return unknownKeys(property, v, where);
        return object.additionalProperties === false ? [where] : [];
      }),
    ),
  );
}

/** The problems of the branch that fits best; a value no branch describes is not this check's business. */
function fewest(candidates: string[][]): string[] {
  if (candidates.length === 0) return [];
  return candidates.reduce((best, next) => (next.length < best.length ? next : best));
}

describe('the JSON Schema of the site file', () => {
  it('is what `npm run schema` generates from lib/config/site-config.ts now', () => {
    assert.ok(committed === siteConfigJsonSchema(), `${SITE_SCHEMA_FILE} is stale: run \`npm run schema\` and commit it`);
  });

  it('describes the input side: every section of the site file, closed to unknown keys', () => {
    const schema = JSON.parse(committed);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.additionalProperties, false);
    for (const section of [
      'project',
      'domain',
      'hosts',
      'vps',
      'kubernetes',
      'network',
      'images',
      'components',
      'data',
      'backup',
      'plane',
      'edge',
      'users',
    ]) {
      assert.ok(schema.properties?.[section], section);
    }
  });

  it('is named by the first line of every site file, so editors find it', () => {
    assert.ok(siteFiles.includes('javisi.yaml'), siteFiles.join(', '));
    for (const file of siteFiles) {
      assert.equal(fs.readFileSync(path.join(SITE_DIR, file), 'utf8').split('\n')[0], SITE_SCHEMA_MODELINE, `site/${file}`);
    }
    const named = /\$schema=(\S+)$/.exec(SITE_SCHEMA_MODELINE)?.[1] ?? '';
    assert.equal(path.join(SITE_DIR, named), path.join(REPO_ROOT, SITE_SCHEMA_FILE));
  });

  it('allows every key of every site file, and flags a misspelt one', () => {
    const schema = JSON.parse(committed);
    for (const file of siteFiles) {
      assert.deepEqual(unknownKeys(schema, parse(fs.readFileSync(path.join(SITE_DIR, file), 'utf8'))), [], `site/${file}`);
    }
    const typo = parse(fs.readFileSync(path.join(SITE_DIR, 'javisi.yaml'), 'utf8'));
    typo.components.api.replica = 2;
    typo.users.agents[0].emial = 'x@example.org';
    assert.deepEqual(unknownKeys(schema, typo).sort(), ['components.api.replica', 'users.agents[0].emial']);
  });
});
