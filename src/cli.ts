import { Command, Option } from 'commander';
import { CONFIG_HELP, ConfigError, loadConfig, type Config } from './config.ts';
import { createLogger } from './log.ts';
import { openConfiguredDatabase, startDaemon } from './daemon.ts';
import { readCatalogFile } from './catalog/catalogFile.ts';
import { applyCatalog, CatalogError } from './catalog/catalogStore.ts';
import { ensureHealthRows } from './db/healthWriter.ts';
import { createToken, listTokens, revokeToken, ROLES, type Role } from './api/tokens.ts';
import type { Database } from './db/client.ts';
import { sampleDqFailure, sampleSlaMiss } from './signals/sampleEvents.ts';
import { CliError } from './cli/apiClient.ts';
import { registerOnCallCommands } from './cli/onCallCommands.ts';

/** Runs `work` against the configured database; an embedded server this command started is stopped again. */
async function withDatabase<T>(config: Config, work: (database: Database) => Promise<T>): Promise<T> {
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const { database, embedded } = await openConfiguredDatabase(config, log);
  try {
    return await work(database);
  } finally {
    await database.close();
    if (embedded && !embedded.reused) await embedded.stop();
  }
}

export function buildCli(): Command {
  const program = new Command('medic')
    .description('Pipeline Medic: diagnoses failing data-lake pipelines and serves per-table health.\n\nWith no configuration, `medic serve` starts an embedded PostgreSQL under ./.medic and listens on 127.0.0.1:8080.')
    .addHelpText('after', `\n${CONFIG_HELP}\n\nExamples:\n  medic serve\n  medic catalog apply -f catalog.yaml\n  medic token create --role reader --name grafana\n\nOn call (against a running daemon; MEDIC_URL, MEDIC_TOKEN, see medic tables --help):\n  medic tables --status unhealthy\n  medic rca list --assignee orders-dba\n  medic rca show ID\n  medic rca action ID acknowledge\n  medic incidents --status open`)
    .showHelpAfterError('(run medic --help for usage)');

  program.command('serve')
    .description('start the daemon: signals in, diagnosis, Data Health API (stops gracefully on SIGTERM/SIGINT)')
    .action(async () => {
      const config = loadConfig();
      const log = createLogger(config.logLevel);
      const daemon = await startDaemon(config, log);
      let signalled = 0;
      const onSignal = (name: string) => {
        signalled += 1;
        if (signalled > 1) {
          log.warn(`${name} again: exiting without finishing the drain`);
          process.exit(1);
        }
        log.info({ signal: name }, 'stop requested');
        void daemon.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    });

  program.command('migrate')
    .description('apply pending database migrations and exit (serve also does this at start)')
    .action(async () => {
      await withDatabase(loadConfig(), async () => undefined);
      process.stdout.write('migrations applied\n');
    });

  const catalog = program.command('catalog').description('manage the catalog of onboarded tables and teams');
  catalog.command('apply')
    .description('upsert every team and table of a catalog YAML file, all or nothing')
    .requiredOption('-f, --file <file>', 'catalog YAML file (the shape of DESIGN 4)')
    .action(async (options: { file: string }) => {
      const doc = await readCatalogFile(options.file);
      const result = await withDatabase(loadConfig(), async ({ db }) => {
        const applied = await applyCatalog(db, doc);
        await ensureHealthRows(db, (doc.tables ?? []).map((t) => t.name));
        return applied;
      });
      for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(`applied ${result.teams} team(s) and ${result.tables} table(s) from ${options.file}\n`);
    });

  const token = program.command('token').description('manage API bearer tokens (only their hashes are stored)');
  token.command('create')
    .description('create a token and print it once')
    .addOption(new Option('--role <role>', 'what the token may do').choices([...ROLES]).makeOptionMandatory())
    .requiredOption('--name <name>', 'who or what uses it, e.g. airflow-prod or grafana')
    .action(async (options: { role: Role; name: string }) => {
      const created = await withDatabase(loadConfig(), ({ db }) => createToken(db, options.name, options.role)).catch((error: Error & { cause?: { code?: string } }) => {
        if (/api_tokens_name_idx|duplicate key/.test(String(error.message) + String(error.cause ?? ''))) throw new Error(`a token named "${options.name}" already exists; revoke it first or pick another name`);
        throw error;
      });
      process.stdout.write(`${created}\n`);
    });
  token.command('list').description('list tokens (names and roles, never the tokens)').action(async () => {
    const rows = await withDatabase(loadConfig(), ({ db }) => listTokens(db));
    for (const row of rows) process.stdout.write(`${row.name}\t${row.role}\t${row.created_at.toISOString()}${row.revoked_at ? `\trevoked ${row.revoked_at.toISOString()}` : ''}\n`);
  });
  token.command('revoke').description('revoke a token by name').requiredOption('--name <name>', 'the token name').action(async (options: { name: string }) => {
    const revoked = await withDatabase(loadConfig(), ({ db }) => revokeToken(db, options.name));
    if (!revoked) throw new Error(`no active token named "${options.name}"`);
    process.stdout.write(`revoked ${options.name}\n`);
  });
  program.command('produce')
    .description('publish sample SLA-miss or DQ-failure events to Kafka (KAFKA_BROKERS), for demos and checks')
    .argument('<kind>', 'sla-miss or dq-failure')
    .requiredOption('--table <table>', 'the lake table the event is about')
    .option('--count <n>', 'how many events (each with a fresh id)', '1')
    .option('--set <json>', 'fields to override, as JSON, e.g. \'{"source_count":0}\'')
    .option('--raw <text>', 'send this text as the message value instead (to see a dead letter)')
    .action(async (kind: string, options: { table: string; count: string; set?: string; raw?: string }) => {
      const config = loadConfig();
      if (!config.kafka) throw new Error('KAFKA_BROKERS is not set; e.g. KAFKA_BROKERS=127.0.0.1:9092 medic produce sla-miss --table lake.orders');
      if (kind !== 'sla-miss' && kind !== 'dq-failure') throw new Error(`kind must be sla-miss or dq-failure (got ${kind})`);
      const count = Number(options.count);
      if (!Number.isInteger(count) || count < 1 || count > 100_000) throw new Error('--count must be a whole number from 1 to 100000');
      let overrides: Record<string, unknown> = {};
      if (options.set) {
        try { overrides = JSON.parse(options.set) as Record<string, unknown>; } catch { throw new Error('--set must be a JSON object'); }
      }
      const topic = kind === 'sla-miss' ? config.kafka.slaMissTopic : config.kafka.dqFailureTopic;
      const { Kafka, Partitioners, logLevel } = await import('kafkajs');
      const producer = new Kafka({ clientId: 'medic-produce', brokers: config.kafka.brokers, logLevel: logLevel.ERROR }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      try {
        const messages = Array.from({ length: count }, () => {
          if (options.raw !== undefined) return { key: options.table, value: options.raw };
          const event = kind === 'sla-miss' ? sampleSlaMiss(options.table, new Date(), overrides) : sampleDqFailure(options.table, new Date(), overrides);
          return { key: options.table, value: JSON.stringify(event) };
        });
        await producer.send({ topic, messages });
        process.stdout.write(`published ${count} message(s) to ${topic}\n`);
      } finally {
        await producer.disconnect();
      }
    });
  registerOnCallCommands(program);
  return program;
}

/** Entry point: errors a person can act on, not stack traces, and a non-zero exit. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof CatalogError || error instanceof CliError) {
      process.stderr.write(`medic: ${error.message}\n`);
    } else {
      // Unexpected errors keep their stack: they are bugs to report.
      process.stderr.write(`medic: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exit(1);
  }
}
