// The reporter of `npm test` (node --test --test-reporter=./scripts/test-reporter.mjs). Node's default
// (tap, or spec on a terminal) prints every test of every suite: thousands of lines in which a failure
// is easy to miss. This is Node's own dot reporter, a dot per test and every failure in full (error,
// diff, stack) at the end; then what the failing files printed (a file that cannot even load fails
// with only 'test failed': its error is in its stderr); then each skipped test with its reason, and the
// counts. node:test/reporters has had dot since Node 20.0: the same on 20, 22 and 24.
// `node --test build/test/x.test.js` still gives the default, for the detail of one file.
import { resolve } from 'node:path';
import { dot } from 'node:test/reporters';

const COUNTS = ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];

export default async function* reporter(source) {
  const counts = [];
  const skipped = [];
  /** What each file printed (stdout and stderr), kept to be shown if one of its tests fails. */
  const output = new Map();
  const failedFiles = new Set();
  async function* watch() {
    for await (const event of source) {
      // The run's totals come as the last diagnostics at nesting 0 ("tests 541", "pass 541", ...).
      if (event.type === 'test:diagnostic' && event.data.nesting === 0 && COUNTS.includes(event.data.message.split(' ')[0])) {
        counts.push(event.data.message);
      }
      if ((event.type === 'test:stdout' || event.type === 'test:stderr') && event.data.file) {
        // Node 22+ names the file relative to the working directory here, absolute in test:fail.
        const file = resolve(event.data.file);
        output.set(file, (output.get(file) ?? '') + event.data.message);
      }
      if (event.type === 'test:fail' && event.data.file) failedFiles.add(resolve(event.data.file));
      if (event.type === 'test:pass' && (event.data.skip !== undefined || event.data.todo !== undefined)) {
        const reason = event.data.skip ?? event.data.todo;
        skipped.push(
          `- ${event.data.name}${typeof reason === 'string' ? `: ${reason}` : ''}${event.data.file ? ` (${event.data.file})` : ''}`,
        );
      }
      yield event;
    }
  }
  yield* dot(watch());
  for (const file of failedFiles) {
    const printed = output.get(file)?.trimEnd();
    if (printed) yield `\nwhat ${file} printed:\n${printed}\n`;
  }
  if (skipped.length > 0) yield `\nskipped or todo:\n${skipped.join('\n')}\n`;
  yield `\n${counts.join(', ')}\n`;
}
