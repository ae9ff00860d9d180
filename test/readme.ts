/**
 * Reads README.md and docs/*.md the way the tests need them: the repository paths they name, the first
 * deploy's shell block with the Secrets its commands create, and every command a heavier suite runs as
 * written (DOC_COMMANDS). The documents are parsed, never retyped, so the tests follow them and fail when
 * they go stale. Shared by test/readme.test.ts, test/runbook.test.ts and the cluster and PostgreSQL suites.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './helpers';

export const README = path.join(REPO_ROOT, 'README.md');

export function readReadme(): string {
  return fs.readFileSync(README, 'utf8');
}

/** The operator's and the developer's documents, by repository path. */
export const DOCS = [
  'README.md',
  'docs/configuration.md',
  'docs/development.md',
  'docs/runbook.md',
  'docs/agents.md',
  'docs/capacity.md',
] as const;

export function readDoc(relative: string): string {
  return fs.readFileSync(path.join(REPO_ROOT, relative), 'utf8');
}

/** A fenced code block; `line` is the 1-based line of its first content line. */
export interface CodeBlock {
  readonly lang: string;
  readonly text: string;
  readonly line: number;
}

/** A heading section: its heading line, and the lines up to the next heading of the same or a higher level. */
export function section(markdown: string, heading: string): { text: string; line: number } {
  const level = /^#+/.exec(heading)?.[0].length;
  if (!level) throw new Error(`not a heading: ${heading}`);
  const lines = markdown.split('\n');
  const fenced = fencedLines(lines);
  const start = lines.findIndex((l, i) => !fenced[i] && l.trim() === heading);
  if (start < 0) throw new Error(`no "${heading}" section in ${markdown.split('\n')[0]}`);
  let end = start + 1;
  while (end < lines.length && !(!fenced[end] && /^#+ /.test(lines[end]) && /^#+/.exec(lines[end])![0].length <= level)) end++;
  return { text: lines.slice(start, end).join('\n'), line: start + 1 };
}

/** Which lines are inside a fenced block (fence lines included). */
function fencedLines(lines: string[]): boolean[] {
  let inside = false;
  return lines.map((line) => {
    if (/^\s*```/.test(line)) {
      inside = !inside;
      return true;
    }
    return inside;
  });
}

export function codeBlocks(markdown: string, firstLine = 1): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    if (end < 0) throw new Error(`line ${firstLine + i}: unterminated code block`);
    blocks.push({ lang: open[1], text: lines.slice(i + 1, end).join('\n'), line: firstLine + i + 1 });
    i = end;
  }
  return blocks;
}

/** The one code block of a section that contains `needle` (a command the README tells the operator to run). */
export function blockWith(heading: string, needle: string, readme: string = readReadme()): CodeBlock {
  const part = section(readme, heading);
  const found = codeBlocks(part.text, part.line).filter((b) => b.text.includes(needle));
  if (found.length !== 1) throw new Error(`"${heading}" must hold exactly one code block with ${needle}, found ${found.length}`);
  return found[0];
}

/** The inline-code command of a section, wrapped lines joined, that starts with `prefix`. */
export function inlineCommand(heading: string, prefix: string, readme: string = readReadme()): string {
  // Fenced blocks out first: their triple backticks would pair with the inline ones.
  const text = section(readme, heading)
    .text.replace(/^\s*```[^]*?^\s*```\s*$/gm, '')
    .replace(/\n\s*/g, ' ');
  // Named several times is fine, as long as it is the same command each time.
  const found = [...new Set([...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((code) => code.startsWith(prefix)))];
  if (found.length !== 1) throw new Error(`"${heading}" must name one \`${prefix}…\` command, found ${found.length}`);
  return found[0];
}

/** The README's first deploy, its numbered steps in order. */
export const FIRST_DEPLOY = '## First deploy';

/** The operator's deploy: the one block of the README's first deploy that creates a Secret, then applies. */
export function deployBlock(readme: string = readReadme()): CodeBlock {
  return blockWith(FIRST_DEPLOY, 'create secret tls', readme);
}

const runbook = () => readDoc('docs/runbook.md');
const configuration = () => readDoc('docs/configuration.md');

/**
 * Every command or block the documents give that a heavier suite runs as written (the cluster suite,
 * test:postgres). Each is found by its section and a needle, so a moved or renamed section fails
 * `npm test` (test/readme.test.ts extracts them all), not only the suite that runs it.
 */
export const DOC_COMMANDS = {
  /** README "First deploy", step 5: the certificate's Secret, then the stack. */
  deploy: (): CodeBlock => deployBlock(),
  /** The one command that removes the workloads and keeps the data (also the README's day-2 table and the guard's refusal). */
  keepData: (): string => blockWith('### Keeping the data', 'kubectl delete -f dist -l', runbook()).text.trim(),
  deleteData: (): CodeBlock => blockWith('### Deleting the data', 'kubectl delete namespace', runbook()),
  reattachVolumes: (): CodeBlock => blockWith('### Re-attaching a kept volume', 'volumeName', runbook()),
  moveToRetain: (): CodeBlock => blockWith('## Moving an install to the retaining StorageClass', '--cascade=orphan', runbook()),
  backupNow: (): string => inlineCommand('### Without plane-k3s', 'kubectl -n plane create job plane-backup-now', runbook()),
  restoreBlock: (): CodeBlock => blockWith('### Without plane-k3s', 'plane-backup-restore', runbook()),
  connectionFile: (): CodeBlock => blockWith('## Provisioning agents', 'go-template', runbook()),
  secretsExport: (): CodeBlock => blockWith('## Keeping the Secrets safe', 'plane-secrets.yaml', runbook()),
  bootstrapRerun: (): string => inlineCommand('## Rotating a Secret', 'kubectl delete job -l', runbook()),
  handRotation: (): CodeBlock => blockWith('## Rotating a Secret', 'kubectl label --local', runbook()),
  postgresBootstrapRerun: (): string =>
    inlineCommand('## Data', 'kubectl -n plane delete job -l app.kubernetes.io/name=postgres-bootstrap', configuration()),
};

// ---- paths ---------------------------------------------------------------------------------------

/** Top-level folders of the repository: a word starting with one of them is a repo-relative path. */
const REPO_DIRS = ['dist', 'dns', 'site', 'lib', 'charts', 'test', 'tools', 'scripts', 'docs', 'network', 'bench', 'bin', '.ci'];
/** Top-level files, named without a folder. */
const REPO_FILES = ['main.ts', 'package.json', 'package-lock.json', 'tsconfig.json', 'cdk8s.yaml'];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Not after a path or word character: /var/lib/… and build/test/… are no repo paths. A path ends at
// whitespace, quotes, brackets or a placeholder such as <version>.
const PATH_PATTERN = new RegExp(
  `(?<![\\w./~$}-])(?:(?:${REPO_DIRS.map(escape).join('|')})/[^\\s"'\`()<>{},;]*|(?:${REPO_FILES.map(escape).join('|')})(?![\\w.-]))`,
  'g',
);

export interface PathMention {
  readonly path: string;
  readonly line: number;
}

/** Every repo-relative path the README names in inline code or in a code block, with its line. */
export function repoPathMentions(markdown: string): PathMention[] {
  const lines = markdown.split('\n');
  const fenced = fencedLines(lines);
  const mentions: PathMention[] = [];
  const collect = (code: string, line: number) => {
    for (const match of code.matchAll(PATH_PATTERN)) mentions.push({ path: match[0].replace(/[.:]+$/, ''), line });
  };
  lines.forEach((l, i) => {
    if (fenced[i] && !/^\s*```/.test(l)) collect(l, i + 1);
  });
  // Inline code may wrap onto the next line: search the prose as one text, fenced lines blanked.
  const prose = lines.map((l, i) => (fenced[i] ? '' : l)).join('\n');
  for (const span of prose.matchAll(/`([^`]+)`/g)) {
    collect(span[1].replace(/\n/g, ' '), prose.slice(0, span.index).split('\n').length);
  }
  return mentions;
}

/** Whether a repo-relative path (a file, a folder, or a pattern with `*`) exists under `root`. */
export function pathExists(root: string, relative: string): boolean {
  const segments = relative.split('/').filter((s) => s !== '');
  const walk = (dir: string, rest: string[]): boolean => {
    if (rest.length === 0) return true;
    const [head, ...tail] = rest;
    if (!head.includes('*')) {
      const next = path.join(dir, head);
      return fs.existsSync(next) && (tail.length === 0 || fs.statSync(next).isDirectory()) && walk(next, tail);
    }
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return false;
    const pattern = new RegExp(`^${head.split('*').map(escape).join('[^/]*')}$`);
    return fs
      .readdirSync(dir)
      .filter((f) => pattern.test(f))
      .some((f) => walk(path.join(dir, f), tail));
  };
  return walk(root, segments);
}

// ---- shell ---------------------------------------------------------------------------------------

/** A simple command of a shell script: its words with quotes removed, substitutions left as written. */
export interface ShellCommand {
  readonly words: string[];
  readonly line: number;
}

/**
 * Splits a script into simple commands: line continuations joined, comments dropped, split on `;`, `&&`,
 * `||` and `|`; quotes and `$(…)` keep their spaces. Enough for the README's commands; not a shell.
 */
export function shellCommands(script: string, firstLine = 1): ShellCommand[] {
  const commands: ShellCommand[] = [];
  let words: string[] = [];
  let word: string | undefined;
  let line = firstLine;
  let start = line;
  const endWord = () => {
    if (word !== undefined) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push({ words, line: start });
    words = [];
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (words.length === 0 && word === undefined) start = line;
    if (c === '\\' && script[i + 1] === '\n') {
      i++;
      line++;
      continue;
    }
    if (c === '\n') {
      endCommand();
      line++;
      continue;
    }
    if (c === ' ' || c === '\t') {
      endWord();
      continue;
    }
    if (c === '#' && word === undefined) {
      while (i + 1 < script.length && script[i + 1] !== '\n') i++;
      continue;
    }
    if (c === ';' || c === '|' || (c === '&' && script[i + 1] === '&')) {
      if (script[i + 1] === c) i++;
      endCommand();
      continue;
    }
    if (c === "'") {
      const close = script.indexOf("'", i + 1);
      if (close < 0) throw new Error(`line ${line}: unterminated '`);
      word = (word ?? '') + script.slice(i + 1, close);
      i = close;
      continue;
    }
    if (c === '"' || (c === '$' && script[i + 1] === '(')) {
      const close = c === '"' ? closingQuote(script, i) : closingParen(script, i + 1);
      word = (word ?? '') + (c === '"' ? script.slice(i + 1, close) : script.slice(i, close + 1));
      i = close;
      continue;
    }
    if (c === '\\') {
      word = (word ?? '') + (script[i + 1] ?? '');
      i++;
      continue;
    }
    word = (word ?? '') + c;
  }
  endCommand();
  return commands;
}

function closingQuote(script: string, open: number): number {
  for (let i = open + 1; i < script.length; i++) {
    if (script[i] === '\\') i++;
    else if (script[i] === '$' && script[i + 1] === '(') i = closingParen(script, i + 1);
    else if (script[i] === '"') return i;
  }
  throw new Error('unterminated "');
}

function closingParen(script: string, open: number): number {
  let depth = 0;
  for (let i = open; i < script.length; i++) {
    if (script[i] === '(') depth++;
    else if (script[i] === ')' && --depth === 0) return i;
    else if (script[i] === '"') i = closingQuote(script, i);
  }
  throw new Error('unterminated $(');
}

/** kubectl flags that take a value; any other flag is refused, so a new one is never misread. */
const KUBECTL_VALUE_FLAGS = new Set([
  '-n',
  '--namespace',
  '-f',
  '--filename',
  '-l',
  '--selector',
  '--from-literal',
  '--from-file',
  '--from-env-file',
  '--cert',
  '--key',
  '--type',
  '--context',
  '--kubeconfig',
  '-o',
  '--output',
  '--dry-run',
  '--docker-server',
  '--docker-username',
  '--docker-password',
  '--docker-email',
  '--for',
  '--timeout',
]);
const KUBECTL_BOOLEAN_FLAGS = new Set(['--append-hash', '--save-config', '--server-side', '--local']);

/** A kubectl invocation: positional arguments and flags (flag → its values, in order). */
export interface KubectlCommand {
  readonly positional: string[];
  readonly flags: ReadonlyMap<string, string[]>;
  readonly line: number;
}

export function kubectlCommands(script: string, firstLine = 1): KubectlCommand[] {
  return shellCommands(script, firstLine)
    .filter((c) => path.basename(c.words[0]) === 'kubectl')
    .map(({ words, line }) => {
      const positional: string[] = [];
      const flags = new Map<string, string[]>();
      const add = (flag: string, value: string) => flags.set(flag, [...(flags.get(flag) ?? []), value]);
      for (let i = 1; i < words.length; i++) {
        const word = words[i];
        if (!word.startsWith('-')) {
          positional.push(word);
          continue;
        }
        const eq = word.indexOf('=');
        const flag = eq > 0 ? word.slice(0, eq) : word;
        if (KUBECTL_BOOLEAN_FLAGS.has(flag)) add(flag, eq > 0 ? word.slice(eq + 1) : 'true');
        else if (!KUBECTL_VALUE_FLAGS.has(flag)) throw new Error(`line ${line}: kubectl flag ${flag} is unknown to test/readme.ts`);
        else if (eq > 0) add(flag, word.slice(eq + 1));
        else if (i + 1 < words.length) add(flag, words[++i]);
        else throw new Error(`line ${line}: kubectl ${flag} has no value`);
      }
      return { positional, flags, line };
    });
}

/** What a `kubectl create secret` command creates, and the local files it reads. */
export interface SecretCommand {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly keys: string[];
  readonly files: string[];
  readonly line: number;
}

/** The Secrets a script creates with `kubectl create secret`; values are never evaluated. */
export function secretCommands(script: string, firstLine = 1): SecretCommand[] {
  return kubectlCommands(script, firstLine)
    .filter((c) => c.positional[0] === 'create' && c.positional[1] === 'secret')
    .map(({ positional, flags, line }) => {
      const [, , type, name, ...extra] = positional;
      const namespace = (flags.get('--namespace') ?? flags.get('-n'))?.at(-1);
      if (!type || !name || extra.length > 0) throw new Error(`line ${line}: expected kubectl create secret <type> <name>`);
      if (!namespace) throw new Error(`line ${line}: Secret ${name} names no namespace (-n)`);
      const keys: string[] = [];
      const files: string[] = [];
      switch (type) {
        case 'generic':
          if (flags.has('--from-env-file')) throw new Error(`line ${line}: --from-env-file hides the keys from this test`);
          for (const literal of flags.get('--from-literal') ?? []) keys.push(literal.split('=')[0]);
          for (const source of flags.get('--from-file') ?? []) {
            const [key, file] = source.includes('=') ? source.split('=', 2) : [path.basename(source), source];
            keys.push(key);
            files.push(file);
          }
          break;
        case 'tls':
          keys.push('tls.crt', 'tls.key');
          for (const flag of ['--cert', '--key']) {
            const file = flags.get(flag)?.at(-1);
            if (!file) throw new Error(`line ${line}: tls Secret ${name} needs ${flag}`);
            files.push(file);
          }
          break;
        case 'docker-registry':
          keys.push('.dockerconfigjson');
          break;
        default:
          throw new Error(`line ${line}: unknown Secret type ${type}`);
      }
      return { namespace, name, type, keys: [...new Set(keys)].sort(), files, line };
    });
}

/** The files a script applies with `kubectl apply -f`, in order. */
export function appliedFiles(script: string, firstLine = 1): { path: string; line: number }[] {
  return kubectlCommands(script, firstLine)
    .filter((c) => c.positional[0] === 'apply')
    .flatMap(({ flags, line }) => [...(flags.get('-f') ?? []), ...(flags.get('--filename') ?? [])].map((p) => ({ path: p, line })));
}
