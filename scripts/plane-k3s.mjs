#!/usr/bin/env node
// The operator's CLI (package.json "bin"): bring build/plane-k3s.js up to date, then run it (ops/cli.ts).
import { createRequire } from 'node:module';
import { ensureBundle, OPS_BUNDLE } from './build.mjs';

// On Node 22+ the Kubernetes client's dependencies trigger deprecation warnings (punycode, url.parse)
// on every run: not the operator's concern, and stderr is where the progress goes.
process.noDeprecation = true;
await ensureBundle(OPS_BUNDLE);
const { main } = createRequire(import.meta.url)(OPS_BUNDLE);
// Exit when done: an API client's keep-alive sockets must not hold the process open.
process.exit(await main(process.argv.slice(2)));
