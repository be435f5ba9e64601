import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The benchmark harness (bench/run.ts, issue 9) at smoke size: every scenario runs for real —
 * PostgreSQL, daemons as child processes, a Kafka broker, autocannon — on tiny inputs. Checks
 * the output's shape, not timings: the machine running the tests is shared and noisy.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const EXPECTED: Record<string, string[]> = {
  ingest: ['signals_per_s', 'rca_per_s', 'signal_to_rca_p50_ms', 'signal_to_rca_p95_ms', 'signal_to_rca_p99_ms', 'ack_p99_ms'],
  kafka: ['events_per_s', 'stored_per_s'],
  health: ['req_per_s', 'p99_ms', 'p99_at_fixed_rate_ms'],
  surge: ['time_to_all_diagnosed_ms', 'incidents', 'source_probes'],
  memory: ['peak_rss_ingest_mb', 'peak_rss_health_mb'],
};

interface Figure { scenario: string; figure: string; value: number; unit: string; baseline: number; ratio: number }

let tmp: string;
let outFile: string;
let child: ChildProcess | null = null;
let stdout = '';
let stderr = '';
let exitCode: number | string | null = null;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-bench-smoke-'));
  outFile = path.join(tmp, 'results', 'smoke.json');
  child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/run.ts'), '--scale', 'smoke', '--out', outFile, '--max-minutes', '2'], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  exitCode = await new Promise<number | string>((resolve) => child!.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  child = null;
}, 170_000);

afterAll(async () => {
  // A harness still running (the test timed out) is told to clean up after itself.
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 60_000))]);
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
}, 90_000);

const lines = (): Figure[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Figure);

describe('bench harness at smoke size', () => {
  it('runs every scenario and exits 0', () => {
    expect(exitCode, `bench/run.ts failed:\n${stderr.slice(-4000)}`).toBe(0);
  });

  it('prints one well-formed JSON line per figure, every figure present, ratio = value / baseline', () => {
    const figures = lines();
    for (const [scenario, names] of Object.entries(EXPECTED)) {
      for (const name of names) {
        const matches = figures.filter((f) => f.scenario === scenario && f.figure === name);
        expect(matches, `${scenario}.${name}`).toHaveLength(1);
      }
    }
    expect(figures).toHaveLength(Object.values(EXPECTED).flat().length);
    for (const f of figures) {
      expect(Object.keys(f).sort()).toEqual(['baseline', 'figure', 'ratio', 'scenario', 'unit', 'value']);
      expect(typeof f.unit === 'string' && f.unit.length > 0).toBe(true);
      for (const n of [f.value, f.baseline, f.ratio]) expect(Number.isFinite(n), `${f.scenario}.${f.figure}: ${JSON.stringify(f)}`).toBe(true);
      expect(f.value).toBeGreaterThanOrEqual(0);
      expect(f.baseline).toBeGreaterThan(0);
      expect(Math.abs(f.ratio - f.value / f.baseline)).toBeLessThanOrEqual(Math.max(1e-4, 1e-3 * Math.abs(f.value / f.baseline)));
    }
    // The smoke surge really correlates: a handful of probes, every failure diagnosed.
    const surge = figures.find((f) => f.figure === 'incidents')!;
    expect(surge.value).toBeGreaterThanOrEqual(1);
  });

  it('prints a readable table with the targets at the end', () => {
    const tail = stdout.slice(stdout.lastIndexOf('scenario  figure'));
    expect(tail).toMatch(/^scenario\s+figure\s+value\s+unit\s+baseline\s+ratio/);
    for (const name of Object.values(EXPECTED).flat()) expect(tail).toContain(name);
    expect(tail).toContain('targets (issue 9):');
  });

  it('writes the results file to the path given with --out', () => {
    expect(existsSync(outFile)).toBe(true);
    const written = JSON.parse(readFileSync(outFile, 'utf8')) as { scale: string; figures: Figure[]; targets: Array<{ target: string; status: string }>; notes: Record<string, unknown>; errors: unknown[] };
    expect(written.scale).toBe('smoke');
    expect(written.figures).toEqual(lines());
    expect(written.errors).toEqual([]);
    expect(written.targets).toHaveLength(10);
    for (const t of written.targets) expect(['met', 'missed']).toContain(t.status);
    expect(Object.keys(written.notes).sort()).toEqual(['health', 'ingest', 'kafka', 'surge']);
  });

  it('leaves nothing running: no daemon, server, consumer, PostgreSQL or Kafka broker it started', () => {
    const pids = [...stderr.matchAll(/process pid (\d+) started/g)].map((m) => Number(m[1]));
    const dirs = [...stderr.matchAll(/process dir (\S+) \(/g)].map((m) => m[1]!);
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(dirs.length).toBe(2);
    const alive = (pid: number) => {
      try {
        // A zombie (exited, not yet reaped) counts as gone.
        return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
      } catch {
        return false;
      }
    };
    expect(pids.filter(alive)).toEqual([]);
    const holders = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return dirs.some((d) => cmdline.includes(d));
      } catch {
        return false;
      }
    });
    expect(holders).toEqual([]);
  });
});
