/**
 * The in-cluster split-DNS override (dist/0008-edge-dns.k8s.yaml) in a real CoreDNS (tools/coredns/
 * install.sh), loaded the way k3s loads coredns-custom: each key a file under /etc/coredns/custom,
 * imported into the main server block (`*.override`) or next to it (`*.server`). The `hosts` plugin
 * stands in for the `kubernetes` plugin (which needs an API server): both answer after `rewrite`.
 */
import assert from 'node:assert/strict';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { appHost } from '../../lib/site';
import { find, REPO_ROOT, siteWith, synth } from '../helpers';
import { freePort, tempDir } from './harness';

const SITE = siteWith();
const HOST = appHost(SITE);
const SERVICE = `plane-caddy.plane-edge.svc.${SITE.kubernetes.clusterDomain}`;
/** Stands in for the Caddy Service's ClusterIP, unknown at synth time. */
const CLUSTER_IP = '10.43.77.77';

function corednsBinary(): string {
  if (process.env.COREDNS_BIN) return process.env.COREDNS_BIN;
  return execFileSync(path.join(REPO_ROOT, 'tools', 'coredns', 'install.sh'), { stdio: ['ignore', 'pipe', 'inherit'] })
    .toString()
    .trim();
}

/** k3s' Corefile, with `hosts` in place of `kubernetes` and forward/cache/health left out. */
function corefile(port: number): string {
  return [
    `.:${port} {`,
    '    bind 127.0.0.1',
    '    errors',
    '    hosts {',
    `        ${CLUSTER_IP} ${SERVICE}`,
    '        fallthrough',
    '    }',
    '    import /etc/coredns/custom/*.override',
    '}',
    'import /etc/coredns/custom/*.server',
    '',
  ]
    .join('\n')
    .replaceAll('/etc/coredns/custom', 'custom');
}

interface Answer {
  readonly rcode: number;
  readonly answers: { name: string; type: number; address: string }[];
}

function encodeName(name: string): Buffer {
  return Buffer.concat([
    ...name.split('.').map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
    Buffer.from([0]),
  ]);
}

/** Reads a possibly compressed name at `offset`; returns it and the offset after it. */
function decodeName(message: Buffer, offset: number): [string, number] {
  const labels: string[] = [];
  let next = -1;
  for (let at = offset; ;) {
    const length = message[at];
    if (length === 0) return [labels.join('.'), next === -1 ? at + 1 : next];
    if ((length & 0xc0) === 0xc0) {
      if (next === -1) next = at + 2;
      at = message.readUInt16BE(at) & 0x3fff;
      continue;
    }
    labels.push(message.subarray(at + 1, at + 1 + length).toString());
    at += 1 + length;
  }
}

/** One A query over UDP, read at the wire level: the owner name of each answer matters to libc resolvers. */
async function queryA(port: number, name: string): Promise<Answer> {
  const id = Math.floor(Math.random() * 0xffff);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // recursion desired
  header.writeUInt16BE(1, 4); // one question
  const query = Buffer.concat([header, encodeName(name), Buffer.from([0, 1, 0, 1])]);
  const socket = dgram.createSocket('udp4');
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DNS answer for ${name}`)), 3000);
      socket.on('message', (message) => {
        clearTimeout(timer);
        resolve(message);
      });
      socket.send(query, port, '127.0.0.1');
    });
    assert.equal(reply.readUInt16BE(0), id);
    const answers: Answer['answers'] = [];
    let offset = decodeName(reply, 12)[1] + 4;
    for (let i = 0; i < reply.readUInt16BE(6); i++) {
      const [owner, after] = decodeName(reply, offset);
      const type = reply.readUInt16BE(after);
      const length = reply.readUInt16BE(after + 8);
      const data = reply.subarray(after + 10, after + 10 + length);
      answers.push({ name: owner, type, address: type === 1 ? [...data].join('.') : '' });
      offset = after + 10 + length;
    }
    return { rcode: reply.readUInt16BE(2) & 0x000f, answers };
  } finally {
    socket.close();
  }
}

describe('the CoreDNS override in a real CoreDNS', () => {
  let dir: string;
  let coredns: ChildProcess;
  let port: number;
  let output = '';

  async function start(files: Record<string, string>): Promise<void> {
    fs.rmSync(path.join(dir, 'custom'), { recursive: true, force: true });
    fs.mkdirSync(path.join(dir, 'custom'));
    for (const [key, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'custom', key), content);
    port = await freePort();
    fs.writeFileSync(path.join(dir, 'Corefile'), corefile(port));
    output = '';
    coredns = spawn(corednsBinary(), ['-conf', 'Corefile'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    coredns.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    coredns.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    for (const deadline = Date.now() + 10_000; !output.includes(`:${port}`); await new Promise((r) => setTimeout(r, 100))) {
      if (coredns.exitCode !== null || Date.now() > deadline) throw new Error(`CoreDNS did not start:\n${output}`);
    }
  }

  async function stop(): Promise<void> {
    if (!coredns || coredns.exitCode !== null) return;
    const exited = new Promise((resolve) => coredns.on('exit', resolve));
    coredns.kill('SIGTERM');
    await exited;
  }

  before(() => {
    dir = tempDir('coredns');
  });
  after(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers the app host with the Caddy Service's address, under the name that was asked", async () => {
    await start(find(synth(SITE), 'ConfigMap', 'coredns-custom').data);
    try {
      const reply = await queryA(port, HOST);
      assert.equal(reply.rcode, 0, output);
      // glibc and musl drop answers whose owner is not the name they asked for.
      assert.deepEqual(reply.answers, [{ name: HOST, type: 1, address: CLUSTER_IP }]);
      const other = await queryA(port, `other.${SITE.domain}`);
      assert.deepEqual(other.answers, [], 'only the app host is rewritten');
    } finally {
      await stop();
    }
  });
});
