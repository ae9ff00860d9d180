import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * A file of the repository, found from compiled code wherever it runs (build/**, or the bundle in
 * build/): the nearest ancestor of `start` that holds `relative`.
 */
export function findUpwards(start: string, relative: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return path.join(start, relative);
  }
}
