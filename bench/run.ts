/**
 * Pipeline Medic benchmarks (issue 9): every figure with a baseline measured in the same run.
 *
 *   npx tsx bench/run.ts [--scale smoke|full] [--only ingest,kafka,health,surge,memory] [--out FILE] [--cpu-prof DIR]
 *                        [--max-minutes N] [--set ingest.callbacks=5000 …] [--daemon-env MEDIC_X=1 …]
 *
 * Prints one JSON line per figure on stdout ({"scenario","figure","value","unit","baseline","ratio"}),
 * then a readable table, and writes the results (figures, notes, targets) to --out
 * (default bench/results/latest.json). Progress goes to stderr. Everything listens on 127.0.0.1,
 * every loop stops by itself, and every server, daemon and broker started here is stopped at the
 * end, on an error, or on SIGINT/SIGTERM.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_DIR, log, round, SCALES, SCENARIOS, stopAllChildren, type BenchContext, type Figure, type Scale, type ScenarioName } from './lib/common.ts';
import { startBenchPostgres } from './lib/postgres.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KAFKA_BROKER_SCRIPT, startKafkaBroker, type KafkaBroker } from '../test/support/kafkaBroker.ts';
import { runIngest } from './scenarios/ingest.ts';
import { runHealth } from './scenarios/health.ts';
import { runSurge } from './scenarios/surge.ts';
import { runKafka } from './scenarios/kafka.ts';

const execFileAsync = promisify(execFile);

interface Args { daemonEnv: Record<string, string>; sets: string[]; scale: Scale['name']; only: Set<ScenarioName>; out: string; cpuProf: string | null; maxMinutes: number }

function parseArgs(argv: string[]): Args {
  const args: Args = { daemonEnv: {}, sets: [], scale: 'smoke', only: new Set(SCENARIOS), out: path.join(BENCH_DIR, 'results', 'latest.json'), cpuProf: null, maxMinutes: 0 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--scale') {
      const scale = value();
      if (scale !== 'smoke' && scale !== 'full') throw new Error(`--scale must be smoke or full (got ${scale})`);
      args.scale = scale;
    } else if (flag === '--only') {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const name of names) if (!SCENARIOS.includes(name as ScenarioName)) throw new Error(`--only: unknown scenario ${name} (one of ${SCENARIOS.join(', ')})`);
      args.only = new Set(names as ScenarioName[]);
    } else if (flag === '--out') args.out = path.resolve(value());
    else if (flag === '--cpu-prof') args.cpuProf = path.resolve(value());
    else if (flag === '--max-minutes') args.maxMinutes = Number(value());
    else if (flag === '--set') args.sets.push(value());
    else if (flag === '--daemon-env') {
      const [key, ...rest] = value().split('=');
      if (!key || rest.length === 0) throw new Error('--daemon-env needs KEY=VALUE');
      args.daemonEnv[key] = rest.join('=');
    }
    else if (flag === '--help' || flag === '-h') {
      process.stdout.write('npx tsx bench/run.ts [--scale smoke|full] [--only ingest,kafka,health,surge,memory] [--out FILE] [--cpu-prof DIR] [--max-minutes N] [--set scenario.key=number …] [--daemon-env KEY=VALUE …]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${flag}`);
  }
  if (!args.maxMinutes) args.maxMinutes = args.scale === 'full' ? 15 : 3;
  return args;
}

/** The targets of issue 9, checked against the figures of this run. */
function targets(figures: Figure[]) {
  const get = (scenario: ScenarioName, figure: string) => figures.find((f) => f.scenario === scenario && f.figure === figure);
  const checks: Array<{ target: string; figures: string[]; check: () => boolean | null }> = [
    { target: '(1) ≥ 1,000 signals/s', figures: ['ingest.signals_per_s'], check: () => { const f = get('ingest', 'signals_per_s'); return f ? f.value >= 1000 : null; } },
    { target: '(1) ≥ 50 % of its baseline', figures: ['ingest.signals_per_s'], check: () => { const f = get('ingest', 'signals_per_s'); return f ? f.ratio >= 0.5 : null; } },
    { target: '(2) ≥ 5,000 events/s end to end', figures: ['kafka.events_per_s'], check: () => { const f = get('kafka', 'events_per_s'); return f ? f.value >= 5000 : null; } },
    { target: '(3) ≥ 70 % of its baseline req/s', figures: ['health.req_per_s'], check: () => { const f = get('health', 'req_per_s'); return f ? f.ratio >= 0.7 : null; } },
    { target: '(3) p99 < 10 ms at 1,000 req/s', figures: ['health.p99_at_fixed_rate_ms'], check: () => { const f = get('health', 'p99_at_fixed_rate_ms'); return f ? f.value < 10 : null; } },
    { target: '(4) one incident', figures: ['surge.incidents'], check: () => { const f = get('surge', 'incidents'); return f ? f.value === 1 : null; } },
    { target: '(4) ≤ 5 probes', figures: ['surge.source_probes'], check: () => { const f = get('surge', 'source_probes'); return f ? f.value <= 5 : null; } },
    { target: '(4) all diagnosed within 15 s', figures: ['surge.time_to_all_diagnosed_ms'], check: () => { const f = get('surge', 'time_to_all_diagnosed_ms'); return f ? f.value <= 15_000 : null; } },
    { target: '(5) ≤ 250 MB during (1)', figures: ['memory.peak_rss_ingest_mb'], check: () => { const f = get('memory', 'peak_rss_ingest_mb'); return f ? f.value <= 250 : null; } },
    { target: '(5) ≤ 250 MB during (3)', figures: ['memory.peak_rss_health_mb'], check: () => { const f = get('memory', 'peak_rss_health_mb'); return f ? f.value <= 250 : null; } },
  ];
  return checks.map((c) => {
    const met = c.check();
    return { target: c.target, figures: c.figures, status: met === null ? 'not run' : met ? 'met' : 'missed' };
  });
}

function table(figures: Figure[], checks: ReturnType<typeof targets>): string {
  const rows = [['scenario', 'figure', 'value', 'unit', 'baseline', 'ratio'], ...figures.map((f) => [f.scenario, f.figure, String(f.value), f.unit, String(f.baseline), f.ratio.toFixed(3)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c >= 2 && c !== 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line), '', 'targets (issue 9):'];
  for (const c of checks) out.push(`  ${c.status.padEnd(7)}  ${c.target}`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const scale = structuredClone(SCALES[args.scale]);
  // --set ingest.callbacks=5000: one knob of the scale changed (for profiling at an in-between size).
  for (const set of args.sets) {
    const m = /^(\w+)\.(\w+)=(\d+(?:\.\d+)?)$/.exec(set);
    const group = m ? (scale as unknown as Record<string, Record<string, number>>)[m[1]!] : undefined;
    if (!m || !group || typeof group[m[2]!] !== 'number') throw new Error(`--set ${set}: expected scenario.key=number with a key of the scale`);
    group[m[2]!] = Number(m[3]);
  }
  const startedAt = new Date();
  const figures: Figure[] = [];
  const notes: Record<string, Record<string, unknown>> = {};
  const errors: Array<{ scenario: string; error: string }> = [];
  const cleanups: Array<{ what: string; fn: () => Promise<unknown> }> = [];
  let cleaning: Promise<void> | null = null;
  let aborted = false;
  const cleanup = () => {
    cleaning ??= (async () => {
      while (cleanups.length > 0) {
        const { what, fn } = cleanups.pop()!;
        try { await fn(); } catch (error) { log(`cleanup of ${what} failed: ${(error as Error).message}`); }
      }
      // Anything spawned but not (yet) registered, e.g. a daemon interrupted before it was ready.
      await stopAllChildren();
    })();
    return cleaning;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (aborted) return;
    aborted = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const watchdog = setTimeout(() => {
    aborted = true;
    log(`time cap of ${args.maxMinutes} min reached: cleaning up and stopping`);
    void cleanup().finally(() => process.exit(124));
  }, args.maxMinutes * 60_000);
  watchdog.unref();

  const defer = (what: string, fn: () => Promise<unknown>) => {
    const entry = { what, fn };
    // Registered after an interruption began: the cleanup may be over already, so run it at once.
    if (aborted) void fn().catch(() => undefined);
    cleanups.push(entry);
    return () => { const i = cleanups.indexOf(entry); if (i >= 0) cleanups.splice(i, 1); };
  };

  try {
    log(`scale ${scale.name}; scenarios ${[...args.only].join(', ')}; ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const postgres = await startBenchPostgres();
    defer('bench PostgreSQL', () => postgres.stop());
    log(`PostgreSQL at ${new URL(postgres.adminUrl).host}`);
    log(`process dir ${postgres.server.dataDir} (PostgreSQL)`);

    let brokerPromise: Promise<KafkaBroker> | null = null;
    const getBroker = () => {
      brokerPromise ??= (async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'medic-bench-kafka-'));
        log(`process dir ${dir} (Kafka broker)`);
        const starting = startKafkaBroker(dir);
        // Registered before the broker is up: an interrupted start is waited for, then stopped (it runs detached).
        defer('Kafka broker', async () => {
          await starting.catch(() => undefined);
          await execFileAsync('bash', [KAFKA_BROKER_SCRIPT, 'stop', '--data-dir', dir], { timeout: 60_000 });
          await fs.rm(dir, { recursive: true, force: true });
        });
        const broker = await starting;
        log(`Kafka broker at ${broker.brokers}`);
        return broker;
      })();
      return brokerPromise;
    };
    // Smoke size has no timing target: start the JVM while the other scenarios run, to keep it short.
    if (scale.name === 'smoke' && args.only.has('kafka')) getBroker().catch(() => undefined);

    const ctx: BenchContext = {
      scale,
      record(scenario, figure, value, unit, baseline) {
        const entry: Figure = { scenario, figure, value, unit, baseline, ratio: baseline === 0 ? NaN : value / baseline };
        entry.ratio = round(entry.ratio, 4);
        figures.push(entry);
        process.stdout.write(`${JSON.stringify(entry)}\n`);
      },
      note(scenario, key, value) {
        (notes[scenario] ??= {})[key] = value;
      },
      defer,
      createDatabase: (label) => postgres.createDatabase(label),
      daemonEnv: args.daemonEnv,
      daemonExecArgv: args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${args.cpuProf}`] : [],
      wantMemory: args.only.has('memory'),
    };
    if (Object.keys(args.daemonEnv).length > 0) (notes.settings ??= {}).daemon_env = args.daemonEnv;
    if (args.cpuProf) await fs.mkdir(args.cpuProf, { recursive: true });

    const plan: Array<[ScenarioName, () => Promise<void>]> = [];
    if (args.only.has('ingest') || args.only.has('memory')) plan.push(['ingest', () => runIngest(ctx)]);
    if (args.only.has('health') || args.only.has('memory')) plan.push(['health', () => runHealth(ctx)]);
    if (args.only.has('surge')) plan.push(['surge', () => runSurge(ctx)]);
    if (args.only.has('kafka')) plan.push(['kafka', () => runKafka(ctx, getBroker)]);
    for (const [name, run] of plan) {
      if (aborted) break;
      const started = Date.now();
      log(`── ${name} ──`);
      try {
        await run();
      } catch (error) {
        const message = (error as Error).stack ?? String(error);
        log(`${name} failed: ${message}`);
        errors.push({ scenario: name, error: (error as Error).message });
      }
      (notes[name] ??= {}).wall_ms = Date.now() - started;
    }
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }

  const checks = targets(figures);
  process.stdout.write(`\n${table(figures, checks)}\n`);
  const result = {
    scale: scale.name,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, node: process.version, load_avg_at_end: os.loadavg() },
    settings: scale,
    figures,
    targets: checks,
    notes,
    errors,
  };
  await fs.mkdir(path.dirname(args.out), { recursive: true });
  await fs.writeFile(args.out, `${JSON.stringify(result, null, 2)}\n`);
  log(`wrote ${args.out}`);
  return errors.length > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  log(`bench failed: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
