import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, type TestDaemon } from './support/testDaemon.ts';

let daemon: TestDaemon;
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-catalog-'));
  const file = path.join(dir, 'catalog.yaml');
  await fs.writeFile(file, [
    'teams:',
    '  - { name: data-platform, platform: true, slack: "#dp" }',
    'tables:',
    '  - name: lake.from_file',
    '    owner: files-eng',
    '    tier: 2',
    '    pipeline: { airflow: main, dag_id: files_daily }',
  ].join('\n'));
  daemon = await startTestDaemon('catalog', { MEDIC_CATALOG: file });
});

afterAll(async () => {
  await daemon?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('catalog', () => {
  it('applies MEDIC_CATALOG at start; onboarded tables read as unknown until a signal arrives', async () => {
    const table = await daemon.call('GET', '/v1/catalog/tables/lake.from_file');
    expect(table.body).toMatchObject({ name: 'lake.from_file', owner: 'files-eng', tier: 2, pipeline: { dag_id: 'files_daily' } });
    const health = await daemon.call('GET', '/v1/tables/lake.from_file/health');
    expect(health.body).toMatchObject({ status: 'unknown', owner: 'files-eng', in_catalog: true, error: null });
  });

  it('PUT creates (201) then replaces (200) a table, and warns about undefined owner teams', async () => {
    const created = await daemon.call('PUT', '/v1/catalog/tables/lake.put_me', { body: { owner: 'ghost-team', tier: 3, upstream: ['lake.from_file'] } });
    expect(created.status).toBe(201);
    expect(created.body.warnings[0]).toContain('ghost-team');
    const replaced = await daemon.call('PUT', '/v1/catalog/tables/lake.put_me', { body: { owner: 'data-platform' } });
    expect(replaced.status).toBe(200);
    const read = await daemon.call('GET', '/v1/catalog/tables/lake.put_me');
    expect(read.body).toMatchObject({ owner: 'data-platform', tier: null, upstream: [] });
  });

  it('PUT a team; a name in the body is refused because it comes from the path', async () => {
    expect((await daemon.call('PUT', '/v1/catalog/teams/crm-eng', { body: { slack: '#crm' } })).status).toBe(201);
    const bad = await daemon.call('PUT', '/v1/catalog/teams/crm-eng', { body: { name: 'other', slack: '#crm' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe('body.name');
  });

  it('POST /v1/catalog is all or nothing', async () => {
    const bad = await daemon.call('POST', '/v1/catalog', { body: { tables: [{ name: 'lake.a1' }, { name: 'lake.a1', tier: 1 }] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('listed twice');
    expect((await daemon.call('GET', '/v1/catalog/tables/lake.a1')).status).toBe(404);
    const invalid = await daemon.call('POST', '/v1/catalog', { body: { tables: [{ name: 'lake.ok' }, { name: 'lake.bad', tier: 'high' }] } });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.field).toBe('body.tables.1.tier');
    expect((await daemon.call('GET', '/v1/catalog/tables/lake.ok')).status).toBe(404);
  });

  it('accepts the catalog as YAML', async () => {
    const response = await daemon.call('POST', '/v1/catalog', { raw: 'tables:\n  - { name: lake.yaml_table, owner: crm-eng }\n', headers: { 'content-type': 'application/yaml' } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ teams: 0, tables: 1, warnings: [] });
    const broken = await daemon.call('POST', '/v1/catalog', { raw: 'tables: [ {', headers: { 'content-type': 'application/yaml' } });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('malformed_yaml');
  });
});
