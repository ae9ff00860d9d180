/**
 * The JSON Schema of the site file, generated from its zod schema (the input side: what the file may
 * hold before the schema's transforms), so that editors complete and check `site/*.yaml` through the
 * modeline `# yaml-language-server: $schema=./site-config.schema.json`. Checks that JSON Schema cannot
 * express (cross-field rules, the stack's budget) are only made by the synth. Written to
 * `site/site-config.schema.json` by `npm run schema`; test/site-schema.test.ts fails when it is stale.
 */
import { z } from 'zod';
import { siteConfigSchema } from './site-config';

export const SITE_SCHEMA_FILE = 'site/site-config.schema.json';
/** The first line of every site file: the YAML language server reads the schema from it. */
export const SITE_SCHEMA_MODELINE = '# yaml-language-server: $schema=./site-config.schema.json';

/** The schema as committed: pretty-printed JSON with a final newline. */
export function siteConfigJsonSchema(): string {
  const schema = z.toJSONSchema(siteConfigSchema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
  const document = {
    ...schema,
    title: 'plane-k3s site file',
    description:
      'Generated from lib/config/site-config.ts by `npm run schema`; do not edit. The synth checks more than this schema can say.',
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
