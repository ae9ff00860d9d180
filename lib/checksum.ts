import { createHash } from 'node:crypto';

/** Pod-template annotation carrying the digest of the configuration the pod consumes. */
export const CONFIG_CHECKSUM_ANNOTATION = 'checksum/config';

/**
 * Digest of configuration data, independent of key order. Put on a pod template, it makes a change
 * of that data roll exactly the pods that consume it (the seed's "recreate on env_file change").
 */
export function configChecksum(...sources: ReadonlyArray<Readonly<Record<string, string>>>): string {
  const hash = createHash('sha256');
  for (const source of sources) {
    for (const key of Object.keys(source).sort()) {
      hash.update(JSON.stringify([key, source[key]]));
    }
    hash.update('\u0000');
  }
  return hash.digest('hex');
}
