/**
 * The cluster as the operator's kubeconfig reaches it (@kubernetes/client-node): reads, port-forward,
 * exec and logs through the API server, so every command works from any machine with the kubeconfig.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import * as tls from 'node:tls';
import * as k8s from '@kubernetes/client-node';

export interface KubeOptions {
  /** A kubeconfig file. @default $KUBECONFIG or ~/.kube/config */
  readonly kubeconfig?: string;
  /** A context of it. @default its current context */
  readonly context?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  /** Over TLS: the certificate the server presented. */
  readonly certificate?: tls.PeerCertificate;
}

export interface HttpRequest {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** Speak TLS with this server name (SNI); the certificate is returned, not verified here (the caller judges it). */
  readonly tlsServerName?: string;
  /** @default 15000 */
  readonly timeoutMs?: number;
}

/** A local port forwarded to one pod's port through the API server. */
export class Forward {
  constructor(
    readonly pod: string,
    readonly localPort: number,
    private readonly server: net.Server,
    private readonly sockets: Set<net.Socket>,
  ) {}

  /** An HTTP request through the forward (plain Node http: the Host header is ours to set). */
  request(req: HttpRequest): Promise<HttpResponse> {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = { ...req.headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const options: http.RequestOptions = {
        host: '127.0.0.1',
        port: this.localPort,
        method: req.method ?? 'GET',
        path: req.path,
        headers,
        agent: false,
        timeout: req.timeoutMs ?? 15_000,
      };
      const tlsOptions: https.RequestOptions = req.tlsServerName ? { servername: req.tlsServerName, rejectUnauthorized: false } : {};
      const request = (req.tlsServerName ? https : http).request({ ...options, ...tlsOptions }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        const certificate = response.socket instanceof tls.TLSSocket ? response.socket.getPeerCertificate() : undefined;
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            certificate,
          }),
        );
        response.on('error', (error) =>
          reject(
            new Error(
              `${req.method ?? 'GET'} ${req.path} through the forward to ${this.pod}: answer ${response.statusCode} cut short after ${Buffer.concat(chunks).length} bytes (${error.message})`,
            ),
          ),
        );
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${(req.timeoutMs ?? 15_000) / 1000} s`)));
      request.on('error', (error) =>
        reject(new Error(`${req.method ?? 'GET'} ${req.path} through the forward to ${this.pod}: ${error.message || 'connection closed'}`)),
      );
      request.end(body);
    });
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export class Kube {
  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly batch: k8s.BatchV1Api;
  readonly admission: k8s.AdmissionregistrationV1Api;
  readonly networking: k8s.NetworkingV1Api;

  constructor(options: KubeOptions = {}) {
    this.config = loadKubeConfig(options);
    this.core = this.config.makeApiClient(k8s.CoreV1Api);
    this.apps = this.config.makeApiClient(k8s.AppsV1Api);
    this.batch = this.config.makeApiClient(k8s.BatchV1Api);
    this.admission = this.config.makeApiClient(k8s.AdmissionregistrationV1Api);
    this.networking = this.config.makeApiClient(k8s.NetworkingV1Api);
  }

  get contextName(): string {
    return this.config.getCurrentContext();
  }

  /** The API server's URL, as the current context names it. */
  get server(): string {
    return this.config.getCurrentCluster()?.server ?? '';
  }

  /**
   * Why the API server cannot be worked with, in one line, or undefined when it answers: unreachable
   * (refused, unknown host, TLS, no answer within `timeoutMs`) or refusing the context's credentials
   * (401). Any other answer, even an error status, means it is there: the commands report the rest.
   */
  async unreachable(timeoutMs = 15_000): Promise<string | undefined> {
    const version = this.config.makeApiClient(k8s.VersionApi);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      await Promise.race([version.getCode(), timeout]);
      return undefined;
    } catch (error) {
      const status = statusOf(error);
      if (status === 401) return `the API server ${this.server} refuses the credentials of context ${this.contextName} (401)`;
      if (status !== undefined) return undefined;
      const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
      // node-fetch says "request to URL failed, reason: connect ECONNREFUSED …": the reason is the news.
      return `cannot reach the API server ${this.server} (context ${this.contextName}): ${message.replace(/^request to \S+ failed, reason: /, '')}`;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The object, or undefined when the API server answers 404 (any other error is thrown). */
  async maybe<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** A running, ready pod behind `service`, and the container port its `servicePort` targets. */
  async podBehindService(namespace: string, service: string, servicePort: number): Promise<{ pod: string; port: number }> {
    const svc = await this.core.readNamespacedService({ name: service, namespace });
    const selector = Object.entries(svc.spec?.selector ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    if (!selector) throw new Error(`service ${namespace}/${service} selects no pods`);
    const target = svc.spec?.ports?.find((p) => p.port === servicePort)?.targetPort ?? servicePort;
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: selector });
    const ready = pods.items.filter(
      (p) =>
        p.status?.phase === 'Running' &&
        !p.metadata?.deletionTimestamp &&
        p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    );
    if (ready.length === 0) throw new Error(`no ready pod behind service ${namespace}/${service} (${pods.items.length} pods)`);
    const pod = ready[0];
    let port: number | undefined;
    if (typeof target === 'number') port = target;
    else {
      for (const container of pod.spec?.containers ?? []) {
        port ??= container.ports?.find((p) => p.name === target)?.containerPort;
      }
    }
    if (port === undefined) throw new Error(`pod ${pod.metadata?.name} has no port named ${target}`);
    return { pod: pod.metadata?.name as string, port };
  }

  /** Forwards a local port (127.0.0.1, chosen by the system) to `pod`:`port`, like kubectl port-forward. */
  async forward(namespace: string, pod: string, port: number): Promise<Forward> {
    const portForward = new k8s.PortForward(this.config);
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      portForward
        .portForward(namespace, pod, [port], socket, null, socket)
        .then((ws) => {
          // end(), not destroy(): the last bytes from the pod may still be queued for the client.
          (ws as unknown as { on?: (e: string, f: () => void) => void }).on?.('close', () => socket.end());
          socket.on('close', () => (ws as { close?: () => void }).close?.());
        })
        .catch(() => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject));
    return new Forward(`${namespace}/${pod}:${port}`, (server.address() as net.AddressInfo).port, server, sockets);
  }

  /** Forward to the pod a Service would send `servicePort` to. */
  async forwardService(namespace: string, service: string, servicePort: number): Promise<Forward> {
    const { pod, port } = await this.podBehindService(namespace, service, servicePort);
    return this.forward(namespace, pod, port);
  }

  /**
   * Runs `command` in a container and returns its standard output (stderr is dropped): callers pass
   * commands that print names, never values.
   */
  async exec(namespace: string, pod: string, container: string, command: string[], timeoutMs = 30_000): Promise<string> {
    return (await this.execBytes(namespace, pod, container, command, timeoutMs)).toString('utf8');
  }

  /** Same, the output as bytes (a gzip file read with cat). */
  async execBytes(namespace: string, pod: string, container: string, command: string[], timeoutMs = 30_000): Promise<Buffer> {
    const exec = new k8s.Exec(this.config);
    const out: Buffer[] = [];
    const stdout = new Writable({
      write(chunk, _enc, done) {
        out.push(Buffer.from(chunk));
        done();
      },
    });
    const stderr = new PassThrough();
    stderr.resume();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`exec in ${pod}/${container}: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      exec
        .exec(namespace, pod, container, command, stdout, stderr, null, false, (status) => {
          clearTimeout(timer);
          if (status.status === 'Success') resolve(Buffer.concat(out));
          else reject(new Error(`exec in ${pod}/${container} failed: ${status.message ?? status.reason ?? 'unknown'}`));
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        });
    });
  }

  /** The last `lines` lines a container logged. */
  async tail(namespace: string, pod: string, container: string, lines: number): Promise<string[]> {
    const text = await this.core.readNamespacedPodLog({ name: pod, namespace, container, tailLines: lines });
    return String(text ?? '')
      .split('\n')
      .filter((line) => line.length > 0);
  }

  /** Pods of a workload (by its selector), newest first. */
  async podsOf(namespace: string, selector: Record<string, string>): Promise<k8s.V1Pod[]> {
    const labelSelector = Object.entries(selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector });
    return pods.items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .sort((a, b) => String(b.metadata?.creationTimestamp ?? '').localeCompare(String(a.metadata?.creationTimestamp ?? '')));
  }
}

/** A kubeconfig that cannot be used: no file, no such context, no cluster (the message says how to fix it). */
export class KubeconfigError extends Error {}

/**
 * The kubeconfig as kubectl would pick it (--kubeconfig, else $KUBECONFIG, else ~/.kube/config, else the
 * pod's service account), with the context chosen, checked before any request: with none of them, the
 * client would silently fall back to http://localhost:8080, and an unknown context to no cluster at all.
 */
export function loadKubeConfig(options: KubeOptions = {}): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  const home = path.join(os.homedir(), '.kube', 'config');
  const files = options.kubeconfig
    ? [options.kubeconfig]
    : process.env.KUBECONFIG
      ? process.env.KUBECONFIG.split(path.delimiter).filter(Boolean)
      : fs.existsSync(home)
        ? [home]
        : [];
  const source = files.length > 0 ? files.join(path.delimiter) : 'the service account of this pod';
  for (const file of files) {
    if (!fs.existsSync(file)) {
      throw new KubeconfigError(`${file}: no such file (${options.kubeconfig ? '--kubeconfig' : '$KUBECONFIG'} names it)`);
    }
  }
  if (files.length === 0 && !fs.existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')) {
    throw new KubeconfigError(
      `none found: $KUBECONFIG is not set and ${home} does not exist; set KUBECONFIG or pass --kubeconfig <file> (and --context <name>)`,
    );
  }
  if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
  else config.loadFromDefault();
  const names = config.getContexts().map((c) => c.name);
  const has = names.length > 0 ? `its contexts: ${names.join(', ')}` : 'it has no contexts';
  if (options.context) {
    if (!names.includes(options.context)) throw new KubeconfigError(`context ${options.context} is not in ${source} (${has})`);
    config.setCurrentContext(options.context);
  }
  const current = config.getCurrentContext();
  if (!current) throw new KubeconfigError(`${source} has no current context: pass --context <name> (${has})`);
  if (!names.includes(current))
    throw new KubeconfigError(`the current context ${current} is not in ${source}: pass --context <name> (${has})`);
  const cluster = config.getContextObject(current)?.cluster;
  if (!config.getCurrentCluster())
    throw new KubeconfigError(`context ${current} names cluster ${cluster ?? '(none)'}, which is not in ${source}`);
  return config;
}

/** The HTTP status of an API error from @kubernetes/client-node, if any. */
export function statusOf(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } };
  for (const value of [e?.code, e?.statusCode, e?.response?.statusCode]) {
    if (typeof value === 'number') return value;
  }
  return undefined;
}

/** One line for an API error: its status and the server's message, not the whole response. */
export function describeKubeError(error: unknown): string {
  const status = statusOf(error);
  const body = (error as { body?: unknown })?.body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = JSON.parse(body).message;
    } catch {
      message = body.slice(0, 200);
    }
  } else if (body && typeof body === 'object') message = (body as { message?: string }).message;
  message ??= error instanceof Error ? error.message : String(error);
  return `${status ? `${status}: ` : ''}${message.split('\n')[0]}`;
}
