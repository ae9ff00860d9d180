/**
 * The last output folder a synth completed, kept so that a failed `npx cdk8s synth` (whose CLI removes
 * the output folder before it runs the app) can put it back. Kept under build/last-good/, one copy per
 * output folder, with the git index's view of that folder when it is tracked.
 *
 * What is restored: the saved copy, unless git has since changed what it holds for that folder (a
 * pull, a checkout): the work tree then held git's version, so that one is restored.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findUpwards } from './paths';

const STORE = path.join(path.dirname(findUpwards(__dirname, 'package.json')), 'build', 'last-good');

interface Saved {
  readonly outdir: string;
  /** Digest of `git ls-files -s` for the folder when it was saved, if git tracks it. */
  readonly gitIndex?: string;
}

export class LastGoodOutput {
  private readonly copy: string;
  private readonly meta: string;

  constructor(private readonly outdir: string) {
    const key = createHash('sha256').update(outdir).digest('hex').slice(0, 16);
    this.copy = path.join(STORE, key, 'output');
    this.meta = path.join(STORE, key, 'saved.json');
  }

  /** Keeps a copy of the output folder as it is now; forgets the copies of folders that are gone. */
  save(): void {
    fs.rmSync(path.dirname(this.copy), { recursive: true, force: true });
    fs.mkdirSync(path.dirname(this.copy), { recursive: true });
    fs.cpSync(this.outdir, this.copy, { recursive: true });
    const saved: Saved = { outdir: this.outdir, gitIndex: gitIndexDigest(this.outdir) };
    fs.writeFileSync(this.meta, JSON.stringify(saved));
    for (const entry of fs.readdirSync(STORE)) {
      const other = readSaved(path.join(STORE, entry, 'saved.json'));
      // Another synth may be writing its entry right now: only an entry whose folder is gone is removed.
      if (other && !fs.existsSync(other.outdir)) fs.rmSync(path.join(STORE, entry), { recursive: true, force: true });
    }
  }

  /**
   * Puts the last good output back if the output folder no longer exists, and says from where;
   * undefined when there was nothing to do or nothing to restore from.
   */
  restoreIfMissing(): string | undefined {
    if (fs.existsSync(this.outdir)) return undefined;
    const saved = readSaved(this.meta);
    const tracked = gitIndexDigest(this.outdir);
    if (saved && fs.existsSync(this.copy) && (tracked === undefined || tracked === saved.gitIndex)) {
      const staging = `${this.outdir}.restore-${process.pid}`;
      fs.cpSync(this.copy, staging, { recursive: true });
      fs.renameSync(staging, this.outdir);
      return 'restored the output of the last successful synth';
    }
    if (tracked !== undefined) {
      const checkout = spawnSync('git', ['checkout', '--', path.basename(this.outdir)], {
        cwd: path.dirname(this.outdir),
        encoding: 'utf8',
      });
      if (checkout.status === 0) return 'restored it from git (the version git has for it)';
    }
    return undefined;
  }
}

function readSaved(file: string): Saved | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Saved;
  } catch {
    return undefined;
  }
}

/** Digest of what the git index holds under `dir`, or undefined when git does not track it. */
function gitIndexDigest(dir: string): string | undefined {
  const parent = path.dirname(dir);
  if (!fs.existsSync(parent)) return undefined;
  const listing = spawnSync('git', ['ls-files', '-s', '--', path.basename(dir)], { cwd: parent, encoding: 'utf8' });
  if (listing.status !== 0 || listing.stdout.trim() === '') return undefined;
  return createHash('sha256').update(listing.stdout).digest('hex');
}
