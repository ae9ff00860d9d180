/**
 * HTTP requests to a base URL (http or https) over kept-alive connections, shaped like ops/kube.ts'
 * Forward.request so that ops/plane-api.ts' PlaneApi runs on it. No limit on connections: an open-loop
 * load must never queue behind its own client.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { HttpRequest, HttpResponse } from '../../ops/kube';

export class UrlTransport {
  private readonly agent: http.Agent;
  private readonly client: typeof http | typeof https;
  readonly host: string;
  /** Requests sent again because a kept-alive connection was closed by the server before they left. */
  reconnects = 0;

  constructor(readonly baseUrl: URL) {
    if (baseUrl.protocol !== 'http:' && baseUrl.protocol !== 'https:') throw new Error(`${baseUrl.protocol} is not http: or https:`);
    this.client = baseUrl.protocol === 'https:' ? https : http;
    this.agent = new this.client.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
    this.host = baseUrl.host;
  }

  request(req: HttpRequest): Promise<HttpResponse> {
    return this.send(req, true);
  }

  private send(req: HttpRequest, mayRetry: boolean): Promise<HttpResponse> {
    const body = req.body === undefined ? undefined : typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    const headers: Record<string, string> = { ...req.headers };
    if (body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = req.timeoutMs ?? 30_000;
    const path = `${this.baseUrl.pathname.replace(/\/$/, '')}${req.path}`;
    return new Promise((resolve, reject) => {
      const request = this.client.request(
        {
          protocol: this.baseUrl.protocol,
          hostname: this.baseUrl.hostname,
          port: this.baseUrl.port,
          method: req.method ?? 'GET',
          path,
          headers,
          agent: this.agent,
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', (error) =>
            reject(new Error(`${req.method ?? 'GET'} ${req.path}: answer ${response.statusCode} cut short (${error.message})`)),
          );
        },
      );
      request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed as the request left (uvicorn closes idle ones after 5 s):
        // nothing reached the server, so sending it once more on a new connection is safe.
        if (mayRetry && request.reusedSocket && error.code === 'ECONNRESET') {
          this.reconnects++;
          this.send(req, false).then(resolve, reject);
          return;
        }
        reject(new Error(`${req.method ?? 'GET'} ${req.path}: ${error.message || 'connection closed'}`));
      });
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
