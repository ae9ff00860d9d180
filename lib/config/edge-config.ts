/**
 * The `edge:` section of the site file: Caddy in front of Plane, VPN-only access, TLS and split DNS.
 * Checks that need other sections (the VPN address inside `network.vpnCidrs`, the namespace apart
 * from Plane's) are in `checkEdgeAgainstSite`, which the site schema runs.
 */
import { z } from 'zod';
import { dnsProvidersOf, imagesWithDnsProviders } from './caddy-dns-modules';
import { addressInCidr, hostAddressIssue } from './addresses';
import { bytes, cidr, dnsLabel, image, ipv4Address, resources, stackNamespace } from './primitives';

/**
 * - `secret`: a certificate the operator puts in a Kubernetes TLS Secret (works on a VPN-only host);
 * - `internal`: Caddy's own local CA (clients must trust its root);
 * - `acme-dns`: ACME DNS-01, only with an image that has the DNS provider module.
 */
export const TLS_MODES = ['secret', 'internal', 'acme-dns'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

/**
 * - `hostPort`: Caddy's pod binds 80/443 on the VPS's VPN address only; the client address reaches
 *   Caddy unchanged (no ServiceLB masquerade). A hostPort is refused by the Pod Security "baseline"
 *   and "restricted" profiles: Caddy's namespace is then "privileged" (docs/configuration.md "The edge").
 * - `loadBalancer`: k3s ServiceLB with `externalTrafficPolicy: Local`; the pod stays "restricted",
 *   but ServiceLB binds every node address, the public one included.
 */
export const EXPOSURES = ['hostPort', 'loadBalancer'] as const;
export type Exposure = (typeof EXPOSURES)[number];

/** Which optional `tls` fields each mode needs; the others are refused, so a stale field is noticed. */
const TLS_FIELDS: Record<TlsMode, readonly TlsField[]> = {
  secret: ['secretName'],
  internal: ['storage'],
  'acme-dns': ['storage', 'acme'],
};
type TlsField = 'secretName' | 'storage' | 'acme';
const TLS_FIELD_HELP: Record<TlsField, string> = {
  secretName: 'the Kubernetes TLS Secret holding tls.crt and tls.key',
  storage: "the size of the volume keeping Caddy's certificates and CA across restarts, e.g. 64Mi",
  acme: 'provider, email and apiTokenSecret for ACME DNS-01',
};

const acme = z.strictObject({
  /** A caddy-dns module compiled into the image, e.g. cloudflare. */
  provider: z.string().regex(/^[a-z0-9]+$/, 'expected a caddy-dns provider name such as cloudflare'),
  email: z.email('expected an email address'),
  /** Secret (in the edge namespace) whose key "api-token" the provider module reads. */
  apiTokenSecret: dnsLabel,
});

/** `edge.tls` as the schema has checked it: each mode with exactly its fields. */
export type TlsConfig =
  | { readonly mode: 'secret'; readonly secretName: string; readonly storage?: undefined; readonly acme?: undefined }
  | { readonly mode: 'internal'; readonly storage: string; readonly secretName?: undefined; readonly acme?: undefined }
  | { readonly mode: 'acme-dns'; readonly storage: string; readonly acme: z.infer<typeof acme>; readonly secretName?: undefined };

const tls = z.strictObject({
  mode: z.enum(TLS_MODES, "expected secret (a Kubernetes TLS Secret), internal (Caddy's local CA) or acme-dns (ACME DNS-01)"),
  secretName: dnsLabel.optional(),
  storage: bytes.optional(),
  acme: acme.optional(),
});

/** 64 GiB: a trail larger than this would crowd a VPS's disk. */
const AUDIT_LOG_MAX_MIB = 64 * 1024;
const wholeNumber = (what: string, min: number, max: number) =>
  z
    .number(`expected a whole number of ${what}`)
    .int(`expected a whole number of ${what}`)
    .min(min, `expected at least ${min} ${what}`)
    .max(max, `expected at most ${max} ${what}`);

/**
 * `edge.auditLog`: Caddy's access log, the trail of who called what (`plane-k3s audit`), kept on its own
 * volume. Caddy rolls it every day at 00:00 UTC and when it reaches its roll size; rolled files are
 * gzip-compressed and removed after `retentionDays`, or earlier when the size bound needs the room
 * (auditLogRolling in lib/edge/edge-site.ts derives Caddy's settings).
 */
export const auditLogSchema = z
  .strictObject({
    /** Days a rolled file is kept (Caddy's roll_keep_for): the trail reaches this far back, a day more at most. */
    retentionDays: wholeNumber('days', 1, 365),
    /**
     * The most the trail takes on disk, every file counted as if gzip saved nothing; also the size of
     * its volume. At least retentionDays + 2: one MiB per daily file, the current one and one being compressed.
     */
    maxSizeMiB: wholeNumber('MiB', 3, AUDIT_LOG_MAX_MIB),
  })
  .superRefine((log, ctx) => {
    // Only between values that passed their own checks: one problem, one line.
    const valid = (value: unknown, min: number, max: number) =>
      Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
    if (!valid(log.retentionDays, 1, 365) || !valid(log.maxSizeMiB, 3, AUDIT_LOG_MAX_MIB)) return;
    if (log.maxSizeMiB < log.retentionDays + 2) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxSizeMiB'],
        message:
          `expected at least retentionDays + 2 = ${log.retentionDays + 2} MiB (a MiB for each day kept, the current file ` +
          `and one being compressed): raise maxSizeMiB or lower retentionDays`,
      });
    }
  });

export type AuditLogConfig = z.infer<typeof auditLogSchema>;

export const edgeConfigSchema = z
  .strictObject({
    /** Caddy's own namespace, so its Pod Security level does not loosen Plane's. */
    namespace: stackNamespace,
    exposure: z.enum(
      EXPOSURES,
      'expected hostPort (Caddy binds the VPN address) or loadBalancer (k3s ServiceLB, externalTrafficPolicy Local)',
    ),
    /** The VPS's address on the VPN (Headscale/Tailscale 100.x): hostPort binds it, split DNS points to it. */
    vpnAddress: ipv4Address,
    /** Answer 403 to any client outside network.vpnCidrs and the pod CIDR. */
    vpnEnforce: z.boolean('expected true or false'),
    caddy: z.strictObject({ image, resources }),
    tls,
    /** Caddy's access log, the per-agent audit trail: retention and disk bound. */
    auditLog: auditLogSchema,
    splitDns: z.strictObject({
      /** Also resolve the app host inside the cluster (ConfigMap coredns-custom in kube-system). */
      coreDnsOverride: z.boolean('expected true or false'),
    }),
  })
  .superRefine((edge, ctx) => {
    const mode = edge.tls?.mode;
    if (!TLS_MODES.includes(mode)) return;
    for (const field of ['secretName', 'storage', 'acme'] as const) {
      const wanted = TLS_FIELDS[mode].includes(field);
      if (wanted && edge.tls[field] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['tls', field], message: `missing: tls mode ${mode} needs ${TLS_FIELD_HELP[field]}` });
      }
      if (!wanted && edge.tls[field] !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tls', field], message: `not used by tls mode ${mode}: remove it` });
      }
    }
    const provider = edge.tls.acme?.provider;
    if (mode === 'acme-dns' && provider && typeof edge.caddy?.image === 'string') {
      let providers: readonly string[] = [];
      try {
        providers = dnsProvidersOf(edge.caddy.image);
      } catch {
        return; // the image itself is reported by its own check
      }
      if (!providers.includes(provider)) {
        ctx.addIssue({
          code: 'custom',
          path: ['tls', 'mode'],
          message:
            `acme-dns needs the DNS provider module "${provider}" in the Caddy image, and ${edge.caddy.image} ` +
            `has ${providers.length > 0 ? `only ${providers.join(', ')}` : 'none'}: use mode secret or internal, ` +
            `or an image with the module (known: ${imagesWithDnsProviders()})`,
        });
      }
    }
  })
  .transform((edge) => edge as Omit<typeof edge, 'tls'> & { readonly tls: TlsConfig });

export type EdgeConfig = z.infer<typeof edgeConfigSchema>;

/** The parts of the site the edge section is checked against. */
interface SiteContext {
  readonly edge?: Partial<EdgeConfig>;
  readonly network?: { readonly vpnCidrs?: readonly string[] };
  readonly kubernetes?: { readonly namespace?: string };
}

/** Cross-section checks; refinements run even when a field failed its own check, so guard types. */
export function checkEdgeAgainstSite(site: SiteContext, ctx: z.RefinementCtx): void {
  const { edge, network, kubernetes } = site;
  if (!edge) return;
  if (edge.namespace && edge.namespace === kubernetes?.namespace) {
    ctx.addIssue({
      code: 'custom',
      path: ['edge', 'namespace'],
      message: `must differ from kubernetes.namespace (${edge.namespace}): Caddy's namespace may need a looser Pod Security level`,
    });
  }
  const cidrs = (network?.vpnCidrs ?? []).filter((c) => typeof c === 'string' && cidr.safeParse(c).success && !c.includes(':'));
  if (typeof edge.vpnAddress === 'string' && ipv4Address.safeParse(edge.vpnAddress).success && cidrs.length > 0) {
    const address = edge.vpnAddress;
    const range = cidrs.find((c) => addressInCidr(address, c));
    const problem = range ? hostAddressIssue(address, range) : `${address} is not inside network.vpnCidrs (${cidrs.join(', ')})`;
    if (problem) {
      ctx.addIssue({
        code: 'custom',
        path: ['edge', 'vpnAddress'],
        message: `${problem}: set the VPS's VPN address (tailscale ip -4 on the VPS)`,
      });
    }
  }
}
