import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { findUpwards } from '../paths';
import { shown } from './primitives';
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

/** A site file is a page of settings; anything larger is refused before it is parsed. */
export const MAX_SITE_FILE_BYTES = 256 * 1024;
/** One message line at most this long: a huge value must not flood the terminal. */
const MAX_MESSAGE_LENGTH = 300;

/** Reads, parses and validates a site file. Throws SiteConfigError naming every bad field. */
export function loadSiteConfig(file: string = DEFAULT_SITE_FILE): SiteConfig {
  let content: Buffer;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_SITE_FILE_BYTES) {
      throw new SiteConfigError(file, [
        `the file has ${size} bytes, more than a site file needs (at most ${MAX_SITE_FILE_BYTES}): is it the right file?`,
      ]);
    }
    content = fs.readFileSync(file);
  } catch (error) {
    if (error instanceof SiteConfigError) throw error;
    throw new SiteConfigError(file, [`cannot read the file: ${(error as Error).message}`]);
  }
  return parseSiteConfig(content, file);
}

/** Parses and validates site YAML (text or raw bytes); `file` is only used in messages. */
export function parseSiteConfig(content: string | Buffer, file = '<site config>'): SiteConfig {
  const fail = (...problems: string[]): never => {
    throw new SiteConfigError(
      file,
      problems.map((p) => (p.length > MAX_MESSAGE_LENGTH ? `${p.slice(0, MAX_MESSAGE_LENGTH)}…` : p)),
    );
  };
  let text: string;
  if (typeof content === 'string') {
    text = content;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(content);
    } catch {
      return fail('the file is not UTF-8 text: save it as UTF-8');
    }
  }
  if (text.length > MAX_SITE_FILE_BYTES)
    return fail(`the text is longer than a site file needs (at most ${MAX_SITE_FILE_BYTES} characters)`);
  if (text.trim() === '') return fail('the file is empty: start from a copy of site/javisi.yaml');

  let tree: unknown;
  try {
    // uniqueKeys: a key written twice is a typo that would otherwise silently win.
    const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    if (document.errors.length > 0) {
      return fail(...document.errors.map((e) => `YAML syntax: ${e.message.split('\n')[0]}`));
    }
    // maxAliasCount: a document whose aliases expand exponentially (a "billion laughs") is refused.
    tree = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    if (error instanceof SiteConfigError) throw error;
    return fail(`YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (tree === null || typeof tree !== 'object' || Array.isArray(tree)) {
    return fail(
      `expected a YAML map of sections (project, domain, hosts, …) at the top level, found ${Array.isArray(tree) ? 'a list' : `a ${tree === null ? 'null' : typeof tree}`}`,
    );
  }
  // reportInput: an issue then tells a missing field (input undefined) from a value of the wrong type.
  const result = siteConfigSchema.safeParse(tree, { reportInput: true });
  if (!result.success) return fail(...result.error.issues.map(describeIssue));
  return result.data;
}

function fieldPath(segments: readonly PropertyKey[]): string {
  if (segments.length === 0) return '(top level)';
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i === 0 ? '' : '.'}${String(s)}`)).join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(issue.path);
    const hint = known.length > 0 ? ` (expected one of: ${known.join(', ')})` : '';
    return issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown key, remove it or fix its spelling${hint}`).join('\n  - ');
  }
  if ((issue.code === 'too_small' || issue.code === 'too_big') && /^Too (small|big)/.test(issue.message)) {
    // zod's own wording ("Too small: expected string to have >=1 characters") in the file's terms.
    const bound = issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
    const unit = issue.origin === 'string' ? ' characters' : issue.origin === 'array' ? ' entries' : '';
    const what =
      issue.origin === 'string' && issue.code === 'too_small' && Number(issue.minimum) === 1
        ? 'expected a value, found an empty text'
        : `expected ${bound}${unit}`;
    return `${fieldPath(issue.path)}: ${what}`;
  }
  if (issue.code === 'invalid_key') {
    return `${fieldPath(issue.path)}: ${issue.issues.map((inner) => inner.message).join('; ')}`;
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${fieldPath(issue.path)}: missing, expected ${issue.expected}`;
  }
  if (
    issue.code === 'invalid_type' &&
    issue.expected === 'string' &&
    (typeof issue.input === 'number' || typeof issue.input === 'boolean')
  ) {
    // YAML reads `cpu: 1` as a number and `version: 1.10` as 1.1: quoting keeps what was written.
    return `${fieldPath(issue.path)}: expected text, found the ${typeof issue.input} ${String(issue.input)}: quote it, e.g. "${String(issue.input)}"`;
  }
  if (issue.code === 'invalid_type') {
    // zod's own wording ("Invalid input: …") is replaced; a message the schema wrote is kept.
    const expected = issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
    return `${fieldPath(issue.path)}: ${expected}, found ${describeInput(issue.input)}`;
  }
  return `${fieldPath(issue.path)}: ${issue.message}`;
}

function describeInput(input: unknown): string {
  if (input === null) return 'nothing (null)';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a map';
  return `the ${typeof input} ${shown(input)}`;
}

/** The keys the schema accepts at a path, to suggest the right spelling of an unknown key. */
function knownKeysAt(segments: readonly PropertyKey[]): string[] {
  let schema: z.ZodType | undefined = unwrap(siteConfigSchema);
  for (const segment of segments) {
    if (schema instanceof z.ZodObject) schema = unwrap((schema.shape as Record<string, z.ZodType>)[String(segment)]);
    else if (schema instanceof z.ZodArray) schema = unwrap(schema.element as z.ZodType);
    else return [];
  }
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** The object schema under an optional field or a typed transform (the narrowed data services, TLS). */
function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  if (schema instanceof z.ZodOptional) return unwrap(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodPipe) return unwrap(schema.in as z.ZodType);
  return schema;
}
