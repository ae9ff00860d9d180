/**
 * The env files `secrets load` reads (a vault's view, an operator's file), parsed strictly.
 *
 * Hand-written on purpose: Node's `util.parseEnv` and dotenv are lenient by design. A line without `=`
 * is folded into the next variable's name (a pasted token then becomes part of a name the CLI shows),
 * duplicates silently win, quotes may span lines and inline comments are cut. A file of Secrets must
 * mean exactly one thing or be refused, and a refusal must not show any part of a value. So this takes
 * only the subset the CLI documents and writes itself:
 *
 * - `NAME=value`, optionally after `export `; spaces around the line and around `=` are ignored;
 * - `NAME` in upper case (`[A-Z_][A-Z0-9_]*`, at most 64 characters: every variable of the stack is);
 * - a value unquoted (no spaces), or between single or double quotes around the whole value, with no
 *   escapes and nothing after the closing quote, on one line;
 * - comments (`#` first on the line) and blank lines; LF or CRLF line ends (a lone CR is refused).
 *
 * Everything else is refused by line number and what is wrong; only a name that passed the rules above
 * is ever shown.
 */

/** Longer than any variable of the stack (the longest, an agent's token, is 59 characters). */
export const MAX_NAME_LENGTH = 64;
/** Far more than any generated value (64 characters) or a password from a vault. */
export const MAX_VALUE_BYTES = 4096;
/** A file of Secrets is a few kilobytes; stdin is read whole before this is checked. */
export const MAX_FILE_BYTES = 1 << 20;

export interface EnvVariable {
  readonly value: string;
  /** 1-based, for the messages of whoever checks the values. */
  readonly line: number;
}

const NAME = /^[A-Z_][A-Z0-9_]*$/;
const ANY_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** C0 and C1 controls but the tab, DEL, and the invisible characters that change what a line means. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029 || c === 0xfeff) return true;
  }
  return false;
}

/** Parses the whole file; throws one line that names every malformed line (the first ten) and no value. */
export function parseEnvFile(content: string, source: string): Map<string, EnvVariable> {
  if (Buffer.byteLength(content, 'utf8') > MAX_FILE_BYTES) throw new Error(`${source}: larger than 1 MiB: not an env file of Secrets`);
  const variables = new Map<string, EnvVariable>();
  const problems: string[] = [];
  // CRLF is taken (a file saved on Windows): the CR before each LF is dropped, any other CR is refused.
  const lines = content.split('\n').map((line) => line.replace(/\r$/, ''));
  lines.forEach((text, index) => {
    const line = index + 1;
    const problem = lineProblem(text, line, variables);
    if (problem) problems.push(`line ${line}: ${problem}`);
  });
  if (problems.length) {
    const more = problems.length > 10 ? `; and ${problems.length - 10} more` : '';
    throw new Error(`${source}: ${problems.slice(0, 10).join('; ')}${more}`);
  }
  return variables;
}

/** What is wrong with one line, or undefined (a variable is then added to `variables`). */
function lineProblem(text: string, line: number, variables: Map<string, EnvVariable>): string | undefined {
  if (hasControl(text)) return 'a control character';
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const statement = trimmed.replace(/^export[ \t]+/, '');
  const equals = statement.indexOf('=');
  if (equals < 0) return 'not NAME=value';
  const name = statement.slice(0, equals).trimEnd();
  if (!ANY_NAME.test(name)) return 'not NAME=value';
  if (!NAME.test(name)) return 'not NAME=value (names are upper case: plane-k3s secrets variables lists them)';
  if (name.length > MAX_NAME_LENGTH) return `a name longer than ${MAX_NAME_LENGTH} characters`;
  const value = unquote(statement.slice(equals + 1).trim());
  if (typeof value !== 'string') return value.problem;
  if (Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES) return `a value over ${MAX_VALUE_BYTES} bytes`;
  const first = variables.get(name);
  if (first) return `${name} again (first on line ${first.line})`;
  variables.set(name, { value, line });
  return undefined;
}

function unquote(raw: string): string | { problem: string } {
  const quote = raw[0];
  if (quote === '"' || quote === "'") {
    if (raw.length < 2 || raw[raw.length - 1] !== quote || raw.slice(1, -1).includes(quote))
      return { problem: 'a quoted value must end with the same quote, on its line (no escapes, nothing after it)' };
    return raw.slice(1, -1);
  }
  if (/[ \t]/.test(raw)) return { problem: 'a value with spaces must be quoted (no comment after a value)' };
  return raw;
}
