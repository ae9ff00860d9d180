// `npm run schema`: writes site/site-config.schema.json, the JSON Schema of the site file, from its zod schema.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findUpwards } from '../lib/paths';
import { SITE_SCHEMA_FILE, siteConfigJsonSchema } from '../lib/config/site-schema';

const root = path.dirname(findUpwards(__dirname, 'package.json'));
const file = path.join(root, SITE_SCHEMA_FILE);
fs.writeFileSync(file, siteConfigJsonSchema());
console.log(`schema: ${SITE_SCHEMA_FILE}`);
