// `npm run synth` and the cdk8s CLI's `app`: bring build/synth.js up to date, then run it in this process.
import { createRequire } from 'node:module';
import { BUNDLE, ensureBundle } from './build.mjs';

await ensureBundle();
createRequire(import.meta.url)(BUNDLE);
