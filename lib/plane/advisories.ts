/**
 * Plane's published advisories (security/plane-advisories.yaml), read and checked: which are open for a
 * Plane version in this stack, and which release fixes them. `plane-k3s verify` reports them offline.
 */
import * as fs from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { compareTags, RELEASE_TAG, SUPPORTED_PLANE_TAGS } from '../config/plane-releases';
import { findUpwards } from '../paths';

export const ADVISORIES_FILE = 'security/plane-advisories.yaml';

/** The stack's defences an advisory's mitigation relies on; `plane-k3s verify` asserts each one. */
export const MITIGATIONS = {
  'signup-closed': 'sign-up closed (instance setting ENABLE_SIGNUP=0)',
  'magic-link-off': 'magic-link login off (instance setting ENABLE_MAGIC_LINK_LOGIN=0)',
  'worker-egress-guard': "the worker's egress policy (no private, link-local, loopback or node address)",
  'vpn-only-edge': 'the edge admits the VPN only',
} as const;
export type Mitigation = keyof typeof MITIGATIONS;

const tag = z.string().regex(RELEASE_TAG, 'expected a Plane release tag such as v1.2.3');
const mitigation = z.enum(Object.keys(MITIGATIONS) as [Mitigation, ...Mitigation[]]);

const advisory = z
  .strictObject({
    id: z.string().min(1),
    aliases: z.array(z.string()).optional(),
    title: z.string().min(1),
    cvss: z.number().min(0).max(10).nullable(),
    fixedIn: tag.nullable(),
    fixNote: z.string().optional(),
    who: z.enum([
      'unauthenticated',
      'authenticated',
      'workspace-guest',
      'project-member',
      'workspace-admin',
      'webhook-creator',
      'session-user',
      'nobody',
    ]),
    exposure: z.enum(['open', 'low', 'mitigated', 'not-applicable']),
    reason: z.string().min(1),
    mitigatedBy: z.array(mitigation).optional(),
  })
  .refine((a) => a.fixedIn !== null || a.fixNote, { message: 'an advisory with no fixing release needs a fixNote saying where the fix is' })
  .refine((a) => a.exposure !== 'mitigated' || (a.mitigatedBy?.length ?? 0) > 0, {
    message: 'a mitigated advisory names the defences it relies on (mitigatedBy)',
  });

const advisoriesFile = z
  .strictObject({
    checked: z.iso.date(),
    releases: z.array(z.strictObject({ tag, date: z.iso.date().nullable(), note: z.string().optional() })).min(1),
    advisories: z.array(advisory),
  })
  .superRefine((file, ctx) => {
    const tags = new Set(file.releases.map((r) => r.tag));
    file.advisories.forEach((a, i) => {
      if (a.fixedIn && !tags.has(a.fixedIn))
        ctx.addIssue({ code: 'custom', path: ['advisories', i, 'fixedIn'], message: `${a.fixedIn} is not in releases` });
    });
    const ids = file.advisories.map((a) => a.id);
    ids.forEach((id, i) => {
      if (ids.indexOf(id) !== i) ctx.addIssue({ code: 'custom', path: ['advisories', i, 'id'], message: `duplicate id ${id}` });
    });
  });

export type Advisory = z.infer<typeof advisory>;
export type AdvisoriesFile = z.infer<typeof advisoriesFile>;

/** security/plane-advisories.yaml, checked; a bad entry throws one line naming it. */
export function loadAdvisories(file = findUpwards(__dirname, ADVISORIES_FILE)): AdvisoriesFile {
  const result = advisoriesFile.safeParse(parse(fs.readFileSync(file, 'utf8')));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${ADVISORIES_FILE}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return result.data;
}

/** The advisories of `advisories` that release `tag` fixes. */
export function fixedBy(advisories: readonly Advisory[], tag: string): Advisory[] {
  return advisories.filter((a) => a.fixedIn !== null && compareTags(a.fixedIn, tag) <= 0);
}

/** Whether `version` has the advisory: every version before its fix (all, when no release has it). */
export function affects(a: Advisory, version: string): boolean {
  return a.fixedIn === null || compareTags(version, a.fixedIn) < 0;
}

export interface Exposure {
  readonly version: string;
  /** Affecting `version`, not mitigated here: open, then low. */
  readonly open: readonly Advisory[];
  readonly mitigated: readonly Advisory[];
  /** The first release after `version`, if any, and the open advisories it fixes. */
  readonly nearest?: { readonly tag: string; readonly fixes: number };
  /** The lowest release that fixes every open advisory a release fixes, and how many. */
  readonly fixesMost?: { readonly tag: string; readonly fixes: number };
  /** Open advisories no release fixes yet. */
  readonly unfixed: readonly Advisory[];
  /**
   * The upgrade this project recommends: the newest release later than `version` that it supports (checked
   * against that release's code and rehearsed on Plane's real backend), and the open advisories it fixes.
   */
  readonly recommended?: { readonly tag: string; readonly fixes: number };
  /** Defences the mitigated ones rely on. */
  readonly reliesOn: readonly Mitigation[];
}

export function exposureOf(file: AdvisoriesFile, version: string, supported: readonly string[] = SUPPORTED_PLANE_TAGS): Exposure {
  const affecting = file.advisories.filter((a) => affects(a, version));
  const open = affecting.filter((a) => a.exposure === 'open' || a.exposure === 'low');
  const mitigated = affecting.filter((a) => a.exposure === 'mitigated');
  const later = file.releases
    .map((r) => r.tag)
    .filter((t) => compareTags(t, version) > 0)
    .sort(compareTags);
  const fixable = open.filter((a) => a.fixedIn !== null).map((a) => a.fixedIn as string);
  const highest = fixable.sort(compareTags).at(-1);
  const newestSupported = supported
    .filter((t) => compareTags(t, version) > 0)
    .sort(compareTags)
    .at(-1);
  return {
    version,
    open: [...open].sort((a, b) => (a.exposure === b.exposure ? (b.cvss ?? 0) - (a.cvss ?? 0) : a.exposure === 'open' ? -1 : 1)),
    mitigated,
    nearest: later[0] ? { tag: later[0], fixes: fixedBy(open, later[0]).length } : undefined,
    fixesMost: highest ? { tag: highest, fixes: fixedBy(open, highest).length } : undefined,
    unfixed: open.filter((a) => a.fixedIn === null),
    recommended: newestSupported ? { tag: newestSupported, fixes: fixedBy(open, newestSupported).length } : undefined,
    reliesOn: [...new Set(mitigated.flatMap((a) => a.mitigatedBy ?? []))].sort(),
  };
}

/** CVSS 9+ critical, 7+ high, 4+ medium, else low; unscored: "unscored". */
export function severity(a: Advisory): string {
  if (a.cvss === null) return 'unscored';
  return a.cvss >= 9 ? 'critical' : a.cvss >= 7 ? 'high' : a.cvss >= 4 ? 'medium' : 'low';
}
