// `npm run docs:network`: redraws the network matrix in docs/network.md.
import * as fs from 'node:fs';
import { loadExpectedMatrix } from '../lib/network/expected-matrix';
import { withDiagram } from '../lib/network/network-doc';
import { findUpwards } from '../lib/paths';

const file = findUpwards(__dirname, 'docs/network.md');
fs.writeFileSync(file, withDiagram(fs.readFileSync(file, 'utf8'), loadExpectedMatrix()));
