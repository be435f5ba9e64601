import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(BENCH_DIR, '..');

export type ScenarioName = 'ingest' | 'kafka' | 'health' | 'surge' | 'memory';
export const SCENARIOS: readonly ScenarioName[] = ['ingest', 'kafka', 'health', 'surge', 'memory'];

/** One measured figure with the baseline measured in the same run; ratio = value / baseline. */
export interface Figure {
  scenario: ScenarioName;
  figure: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
}

export interface Scale {
  name: 'smoke' | 'full';
  ingest: { callbacks: number; pipelines: number; concurrency: number; drainTimeoutMs: number };
  kafka: { events: number; tables: number; drainTimeoutMs: number };
  health: { tables: number; durationS: number; warmupS: number; connections: number; fixedRate: number };
  surge: { pipelines: number; concurrency: number; timeoutMs: number };
}

export const SCALES: Record<Scale['name'], Scale> = {
  smoke: {
    name: 'smoke',
    ingest: { callbacks: 200, pipelines: 20, concurrency: 64, drainTimeoutMs: 30_000 },
    kafka: { events: 1000, tables: 100, drainTimeoutMs: 30_000 },
    health: { tables: 1000, durationS: 3, warmupS: 0, connections: 50, fixedRate: 1000 },
    surge: { pipelines: 50, concurrency: 64, timeoutMs: 30_000 },
  },
  full: {
    name: 'full',
    ingest: { callbacks: 20_000, pipelines: 2_000, concurrency: 64, drainTimeoutMs: 240_000 },
    kafka: { events: 100_000, tables: 10_000, drainTimeoutMs: 300_000 },
    health: { tables: 100_000, durationS: 15, warmupS: 2, connections: 50, fixedRate: 1000 },
    surge: { pipelines: 1_000, concurrency: 64, timeoutMs: 120_000 },
  },
};

/** What every scenario gets: where to record figures and notes, and the shared infrastructure. */
export interface BenchContext {
  scale: Scale;
  /** Records a figure and prints its JSON line. */
  record(scenario: ScenarioName, figure: string, value: number, unit: string, baseline: number): void;
  /** Free-form facts worth keeping next to the figures (counts, settings, errors seen). */
  note(scenario: ScenarioName, key: string, value: unknown): void;
  /** Registers a cleanup run at the end (or on a signal), last registered first; returns an unregister function. */
  defer(what: string, fn: () => Promise<unknown>): () => void;
  /** A fresh migrated database on the bench's own PostgreSQL server. */
  createDatabase(label: string): Promise<string>;
  /** Extra environment for every daemon child (--daemon-env: try a knob such as MEDIC_DIAGNOSIS_CONCURRENCY). */
  daemonEnv: Record<string, string>;
  /** Extra Node flags for every daemon child (e.g. --cpu-prof). */
  daemonExecArgv: string[];
  /** Per-scenario memory figures are emitted by the scenarios that run the daemon (1 and 3). */
  wantMemory: boolean;
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Nearest-rank percentile of unsorted values (0 for none). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes (then resolves null). */
export async function pollUntil<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) return null;
    await sleep(everyMs);
  }
}

/** Peak resident set size of a live process in MB, from /proc (VmHWM: the high-water mark since it started). */
export function peakRssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return hwm ? Number(hwm[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Samples a process's RSS (VmRSS) every `everyMs` and keeps the maximum; also reads VmHWM at the end. */
export function rssSampler(pid: number, everyMs = 100) {
  let max = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (rss) max = Math.max(max, Number(rss[1]) / 1024);
    } catch { /* gone */ }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    /** Stops sampling; the peak is the larger of the sampled maximum and VmHWM. */
    stop(): number {
      clearInterval(timer);
      sample();
      return Math.max(max, peakRssMb(pid) ?? 0);
    },
  };
}

/**
 * CPU time (user + system, ms) a live process has used so far, from /proc/<pid>/stat; null when
 * unreadable. CPU per signal is the figure that survives a busy machine: wall-clock rates fall
 * when other work shares the cores, the work done per signal does not.
 */
export function cpuTimeMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may itself contain spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of proc(5))
    return Number.isFinite(ticks) ? ticks * (1000 / CLOCK_TICKS_PER_S) : null;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_S = 100;

/** Every child process the bench started and that has not exited yet: the last line of cleanup. */
const liveChildren = new Set<ChildProcess>();

/** Tracks a child from the moment it is spawned (before it is ready), so an interrupted run cannot orphan it. */
export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** Stops whatever tracked child is still running (SIGTERM, SIGKILL after the grace). */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...liveChildren].map((child) => stopChild(child, 10_000)));
}

/** Sends SIGTERM and waits for the exit; SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Runs a TypeScript file of bench/ as a child Node process (through tsx) with an IPC channel;
 * resolves once the child sends `{ type: 'ready', ... }`.
 */
export async function spawnTsChild<T extends { type: string }>(file: string, env: Record<string, string>, timeoutMs = 60_000) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(BENCH_DIR, file)], {
    cwd: REPO_DIR,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  trackChild(child);
  log(`process pid ${child.pid} started (${file})`);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => { output += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { output += c.toString(); });
  const listeners = new Set<(message: T) => void>();
  child.on('message', (message) => { for (const l of listeners) l(message as T); });
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} not ready after ${timeoutMs} ms:\n${output}`)); }, timeoutMs);
    const onMessage = (message: T) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      listeners.delete(onMessage);
      resolve(message);
    };
    listeners.add(onMessage);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${file} exited (${code}) before it was ready:\n${output}`)); });
  });
  return {
    child,
    ready,
    output: () => output,
    onMessage: (fn: (message: T) => void) => { listeners.add(fn); return () => listeners.delete(fn); },
    send: (message: unknown) => child.send(message as never),
    stop: () => stopChild(child),
  };
}
