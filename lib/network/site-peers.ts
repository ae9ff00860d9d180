/** Peers outside the cluster's pods that the site defines: the API server, the internet the worker may reach. */
import { SiteConfig } from '../config/site-config';
import { Call } from '../stack/workload';

/** The API server as pods reach it: policies see the node's addresses, after the kubernetes Service's DNAT. */
export function kubeApiServer(site: SiteConfig): Call {
  return {
    to: { name: 'kube-apiserver', cidrs: site.vps.addresses.map((a) => `${a}/32`) },
    ports: [{ port: site.kubernetes.apiServerPort }],
  };
}

/** The internet on the site's ports, minus the SSRF guard and the node itself: where the worker's webhooks go. */
export function workerInternet(site: SiteConfig): Call {
  return {
    to: {
      name: 'internet',
      cidrs: ['0.0.0.0/0'],
      except: [...site.network.workerEgress.blockedCidrs, ...site.vps.addresses.map((a) => `${a}/32`)],
    },
    ports: site.network.workerEgress.ports.map((port) => ({ port })),
  };
}
