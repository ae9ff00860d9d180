import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { findUpwards } from '../paths';
import { SiteConfig, siteConfigSchema } from './site-config';

/** The Javisi site, used when no other file is selected. */
export const DEFAULT_SITE_FILE = findUpwards(__dirname, path.join('site', 'javisi.yaml'));


/** A site file that cannot be used; `problems` has one line per field, each naming its path. */
export class SiteConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid site config ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SiteConfigError';
  }
}

/** Reads, parses and validates a site file. Throws SiteConfigError naming every bad field. */
export function loadSiteConfig(file: string = DEFAULT_SITE_FILE): SiteConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SiteConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  return parseSiteConfig(text, file);
}

/** Parses and validates site YAML text; `file` is only used in messages. */
export function parseSiteConfig(text: string, file = '<site config>'): SiteConfig {
  // uniqueKeys: a key written twice is a typo that would otherwise silently win.
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new SiteConfigError(file, document.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`));
  }
  // reportInput: an issue then tells a missing field (input undefined) from a value of the wrong type.
  const result = siteConfigSchema.safeParse(document.toJS(), { reportInput: true });
  if (!result.success) {
    throw new SiteConfigError(file, result.error.issues.map(describeIssue));
  }
  return result.data;
}

function fieldPath(segments: readonly PropertyKey[]): string {
  if (segments.length === 0) return '(top level)';
  return segments
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i === 0 ? '' : '.'}${String(s)}`))
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path);
    const hint = known.length > 0 ? ` (expected one of: ${known.join(', ')})` : '';
    return issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown key, remove it or fix its spelling${hint}`).join('\n  - ');
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${fieldPath(issue.path)}: missing, expected ${issue.expected}`;
  }
  return `${fieldPath(issue.path)}: ${issue.message}`;
}

/** The keys the schema accepts at a path, to suggest the right spelling of an unknown key. */
function knownKeysAt(segments: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = siteConfigSchema;
  for (const segment of segments) {
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(segment)];
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else return [];
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}
