/**
 * A real PostgreSQL server of the image's major for tests (tools/postgres/install.sh: server and client
 * tools from one build), on 127.0.0.1 with password authentication, set up like the in-cluster one: a
 * superuser named like Plane's user owns Plane's database. PostgreSQL refuses to run as root, so as root
 * the server runs as `nobody`.
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers';

export class PostgresServer {
  /** Installs (cached) and starts a server; stop() it in an `after` hook. */
  static async start(user: string, database: string): Promise<PostgresServer> {
    const installed = spawnSync(path.join(REPO_ROOT, 'tools', 'postgres', 'install.sh'), { encoding: 'utf8' });
    if (installed.status !== 0) throw new Error(`tools/postgres/install.sh failed:\n${installed.stderr}`);
    const bin = installed.stdout.trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-pg-'));
    fs.chmodSync(dir, 0o755);
    const port = await freePort();
    const password = randomBytes(16).toString('hex');
    const server = new PostgresServer(bin, dir, port, user, database, password);
    fs.writeFileSync(path.join(dir, 'pwfile'), `${password}\n`);
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'nobody', dir]);
    server.asServer('initdb', [
      '-D',
      server.data,
      '-U',
      user,
      `--pwfile=${path.join(dir, 'pwfile')}`,
      '-A',
      'scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-instructions',
    ]);
    server.asServer('pg_ctl', [
      '-D',
      server.data,
      '-l',
      path.join(dir, 'server.log'),
      '-w',
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir}`,
      'start',
    ]);
    if (database !== 'postgres') server.sql('postgres', `CREATE DATABASE ${database} OWNER ${user}`);
    return server;
  }

  private readonly data: string;

  private constructor(
    readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    readonly user: string,
    readonly database: string,
    readonly password: string,
  ) {
    this.data = path.join(dir, 'data');
  }

  /** libpq's environment for this server, and its tools first on PATH (as in the postgres image). */
  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: `${this.bin}:${process.env.PATH}`,
      PGHOST: '127.0.0.1',
      PGPORT: String(this.port),
      PGUSER: this.user,
      PGDATABASE: this.database,
      PGPASSWORD: this.password,
      ...extra,
    };
  }

  /** Runs SQL with psql (stops at the first error); returns its unaligned output. */
  sql(database: string, statement: string): string {
    const result = spawnSync(path.join(this.bin, 'psql'), ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', statement], {
      env: this.env(),
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  stop(): void {
    this.asServer('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'stop'], false);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private asServer(tool: string, args: string[], check = true): SpawnSyncReturns<string> {
    const command = path.join(this.bin, tool);
    const result =
      process.getuid?.() === 0
        ? spawnSync('runuser', ['-u', 'nobody', '--', command, ...args], { encoding: 'utf8', cwd: this.dir })
        : spawnSync(command, args, { encoding: 'utf8', cwd: this.dir });
    if (check && result.status !== 0) throw new Error(`${tool} failed (${result.status}): ${result.stderr}${result.stdout}`);
    return result;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * Builds restic and rclone, the releases of images.restic and images.rclone (tools/go-tools/install.sh,
 * cached), and returns a folder under `dir` with them as `restic` and `rclone`, to put first on PATH.
 */
export function backupToolsOnPath(dir: string): string {
  const tools = spawnSync(path.join(REPO_ROOT, 'tools', 'go-tools', 'install.sh'), { encoding: 'utf8' });
  if (tools.status !== 0) throw new Error(`tools/go-tools/install.sh failed:\n${tools.stderr}`);
  const bin = fs.mkdtempSync(path.join(dir, 'bin-'));
  fs.chmodSync(bin, 0o755);
  for (const tool of ['restic', 'rclone']) {
    const built = fs.readdirSync(tools.stdout.trim()).find((f) => f.startsWith(`${tool}-`));
    if (!built) throw new Error(`tools/go-tools/install.sh built no ${tool}`);
    fs.symlinkSync(path.join(tools.stdout.trim(), built), path.join(bin, tool));
  }
  return bin;
}

/** A real S3 service on 127.0.0.1 (`rclone serve s3` of a local folder: each subfolder a bucket); close() it. */
export class S3Server {
  static async start(bin: string, buckets: string[]): Promise<S3Server> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-s3-'));
    for (const bucket of buckets) fs.mkdirSync(path.join(root, bucket));
    const port = await freePort();
    const accessKeyId = `GK${randomBytes(12).toString('hex')}`;
    const secretAccessKey = randomBytes(32).toString('hex');
    const child = spawn(
      path.join(bin, 'rclone'),
      ['serve', 's3', '--addr', `127.0.0.1:${port}`, '--auth-key', `${accessKeyId},${secretAccessKey}`, root],
      {
        stdio: 'ignore',
        env: { PATH: process.env.PATH, RCLONE_CONFIG: '/dev/null' },
      },
    );
    const server = new S3Server(child, root, `http://127.0.0.1:${port}`, accessKeyId, secretAccessKey);
    for (let i = 0; i < 100; i++) {
      if (
        await new Promise<boolean>((resolve) =>
          net
            .connect(port, '127.0.0.1')
            .on('connect', function (this: net.Socket) {
              this.destroy();
              resolve(true);
            })
            .on('error', () => resolve(false)),
        )
      )
        return server;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    server.close();
    throw new Error('rclone serve s3 did not listen');
  }

  private constructor(
    private readonly child: ChildProcess,
    readonly root: string,
    readonly endpoint: string,
    readonly accessKeyId: string,
    readonly secretAccessKey: string,
  ) {}

  close(): void {
    this.child.kill();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
