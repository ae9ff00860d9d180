/**
 * A real PostgreSQL server of the image's major for tests (tools/postgres/install.sh: server and client
 * tools from one build), on 127.0.0.1 with password authentication, set up like the in-cluster one:
 * `split` (the stack's): the superuser `postgres` on the socket only, and Plane's user a non-superuser
 * that owns Plane's database, made by the stack's own ensure-roles.sh and plane-k3s-roles.sql;
 * `legacy` (the stack's before): Plane's user is the superuser. PostgreSQL refuses to run as root, so as
 * root the server runs as `nobody`.
 */
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PG_HBA, POSTGRES_SUPERUSER } from '../../lib/data/postgres';
import { freePort, REPO_ROOT } from '../helpers';

export class PostgresServer {
  /** Installs (cached) and starts a server; stop() it in an `after` hook. */
  static async start(user: string, database: string, layout: 'split' | 'legacy' = 'split'): Promise<PostgresServer> {
    const installed = spawnSync(path.join(REPO_ROOT, 'tools', 'postgres', 'install.sh'), { encoding: 'utf8' });
    if (installed.status !== 0) throw new Error(`tools/postgres/install.sh failed:\n${installed.stderr}`);
    const bin = installed.stdout.trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-pg-'));
    fs.chmodSync(dir, 0o755);
    const port = await freePort();
    const password = randomBytes(16).toString('hex');
    const superuser = layout === 'split' ? POSTGRES_SUPERUSER : user;
    const server = new PostgresServer(bin, dir, port, user, database, password, superuser);
    server.stackHba = layout === 'split';
    fs.writeFileSync(path.join(dir, 'pwfile'), `${password}\n`);
    fs.writeFileSync(server.hbaFile, PG_HBA);
    if (process.getuid?.() === 0) spawnSync('chown', ['-R', 'nobody', dir]);
    server.asServer('initdb', [
      '-D',
      server.data,
      '-U',
      superuser,
      `--pwfile=${path.join(dir, 'pwfile')}`,
      '-A',
      'scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-instructions',
    ]);
    server.startServer();
    if (database !== 'postgres') server.superSql('postgres', `CREATE DATABASE ${database} OWNER ${superuser}`);
    if (layout === 'split') {
      server.stopServer();
      const roles = server.ensureRoles();
      if (roles.status !== 0) throw new Error(`ensure-roles.sh failed (${roles.status}): ${roles.stderr}${roles.stdout}`);
      server.startServer();
    }
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
    /** The server's superuser (the socket's, with trust); ensure-roles.sh renames an old layout's to postgres. */
    public superuser: string,
  ) {
    this.data = path.join(dir, 'data');
  }

  /** The server runs with the in-cluster server's pg_hba.conf; else with initdb's (password for all, as a shared server). */
  private stackHba = false;

  /** The pg_hba.conf of the in-cluster server (lib/data/postgres.ts). */
  get hbaFile(): string {
    return path.join(this.dir, 'pg_hba.conf');
  }

  startServer(): void {
    this.asServer('pg_ctl', [
      '-D',
      this.data,
      '-l',
      path.join(this.dir, 'server.log'),
      '-w',
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${this.port} -k ${this.dir}${this.stackHba ? ` -c hba_file=${this.hbaFile}` : ''}`,
      'start',
    ]);
  }

  stopServer(): void {
    this.asServer('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', 'stop']);
  }

  /**
   * The postgres container's ensure-roles.sh on this (stopped) server, as the container runs it before
   * the image's entrypoint (`true` stands for the entrypoint); the same environment, paths of this server.
   */
  ensureRoles(): SpawnSyncReturns<string> {
    // From then on the server runs as the pod runs it.
    this.stackHba = true;
    return this.asServer(
      'sh',
      [path.join(REPO_ROOT, 'lib', 'data', 'postgres', 'ensure-roles.sh'), 'true'],
      false,
      {
        PATH: `${this.bin}:${process.env.PATH}`,
        PGDATA: this.data,
        PLANE_USER: this.user,
        POSTGRES_DB: this.database,
        POSTGRES_PASSWORD: this.password,
        PLANE_K3S_HBA_FILE: this.hbaFile,
        PLANE_K3S_ROLES_SQL: path.join(REPO_ROOT, 'lib', 'data', 'postgres', 'plane-k3s-roles.sql'),
        PLANE_K3S_SOCKET_DIR: this.dir,
      },
      true,
    );
  }

  /** SQL as the superuser, on the socket (as inside the server's pod). */
  superSql(database: string, statement: string): string {
    return this.socketSql(this.superuser, database, statement);
  }

  /** SQL as `role` on the socket, where the server trusts its own pod. */
  socketSql(role: string, database: string, statement: string): string {
    const result = spawnSync(
      path.join(this.bin, 'psql'),
      ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', this.dir, '-p', String(this.port), '-U', role, '-d', database, '-c', statement],
      // The password only where the socket asks for one (initdb's pg_hba.conf; the stack's trusts the pod).
      { env: { PATH: process.env.PATH, PGPASSWORD: this.password }, encoding: 'utf8' },
    );
    if (result.status !== 0) throw new Error(`psql as ${role} failed: ${result.stderr}`);
    return result.stdout.trim();
  }

  /** psql over TCP as `role` with `password`: its exit code and what it printed. */
  tcpSql(role: string, password: string, database: string, statement: string): SpawnSyncReturns<string> {
    return spawnSync(path.join(this.bin, 'psql'), ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', statement], {
      env: this.env({ PGUSER: role, PGPASSWORD: password }),
      encoding: 'utf8',
    });
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

  private asServer(tool: string, args: string[], check = true, env?: NodeJS.ProcessEnv, onPath = false): SpawnSyncReturns<string> {
    const command = onPath ? tool : path.join(this.bin, tool);
    const options = { encoding: 'utf8' as const, cwd: this.dir, env: env ?? process.env };
    const result =
      process.getuid?.() === 0
        ? spawnSync('runuser', ['-u', 'nobody', '--', command, ...args], options)
        : spawnSync(command, args, options);
    if (check && result.status !== 0) throw new Error(`${tool} failed (${result.status}): ${result.stderr}${result.stdout}`);
    return result;
  }
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
