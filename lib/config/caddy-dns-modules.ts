/** What the schema knows of Caddy images: the DNS provider modules each carries (ACME DNS-01). */
import { parseImageReference } from './primitives';

/**
 * DNS provider modules compiled into known Caddy images, for ACME DNS-01. The official image has
 * none. makeplane/plane-proxy is built with xcaddy and caddy-dns/cloudflare and caddy-dns/digitalocean
 * (apps/proxy/Dockerfile.ce; not re-checked at the v1.2.2 tag: unverified).
 */
const DNS_PROVIDER_MODULES: Readonly<Record<string, readonly string[]>> = {
  'docker.io/library/caddy': [],
  'docker.io/makeplane/plane-proxy': ['cloudflare', 'digitalocean'],
};

/** The DNS provider modules an image is known to contain (none for an unknown image). */
export function dnsProvidersOf(image: string): readonly string[] {
  return DNS_PROVIDER_MODULES[parseImageReference(image).repository] ?? [];
}

/** Images known to carry a DNS provider module, for error messages. */
export function imagesWithDnsProviders(): string {
  return Object.entries(DNS_PROVIDER_MODULES)
    .filter(([, providers]) => providers.length > 0)
    .map(([repository, providers]) => `${repository} (${providers.join(', ')})`)
    .join('; ');
}
