import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Absolute path of `scripts/kafka-broker.sh`. */
export const KAFKA_BROKER_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/kafka-broker.sh');

/** A running single-node KRaft broker started by {@link startKafkaBroker}. */
export interface KafkaBroker {
  /** Bootstrap address for clients, e.g. `127.0.0.1:39092`. Stays the same across {@link KafkaBroker.restart}. */
  brokers: string;
  /** Directory holding the broker's config, data (`data/`), logs (`logs/server.log`) and pid file. */
  dataDir: string;
  /** Stops the broker (SIGTERM, SIGKILL after 30 s). Safe to call more than once. */
  stop(): Promise<void>;
  /** Stops the broker and starts it again on the same data dir and port: topics, offsets and committed group offsets survive. */
  restart(): Promise<void>;
}

/**
 * Runs `scripts/kafka-broker.sh` with the given arguments and returns its trimmed stdout.
 * The first call may download Kafka from Maven Central (cached in `$MEDIC_CACHE`, default
 * `~/.cache/medic`), so give callers generous timeouts.
 */
async function runScript(args: string[], timeoutMs = 280_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [KAFKA_BROKER_SCRIPT, ...args], {
      timeout: timeoutMs,
      maxBuffer: 16 * 1024 * 1024,
      env: process.env,
    });
    return stdout.trim();
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`kafka-broker.sh ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Downloads Kafka into the cache if it is not there yet; resolves with the `libs` directory. */
export async function fetchKafka(): Promise<string> {
  return runScript(['fetch']);
}

/**
 * Starts a real Apache Kafka broker (KRaft, one node acting as broker and controller) via
 * `scripts/kafka-broker.sh start`, and resolves once it accepts client connections.
 *
 * @param dataDir directory for the broker's config and data; a fresh temporary directory when omitted.
 *   Passing a directory of an earlier broker reuses its port, cluster id and data.
 * @returns the bootstrap address plus `stop()` and `restart()`. Always call `stop()` (e.g. in
 *   `afterAll`): the broker runs detached and outlives the test process otherwise.
 */
export async function startKafkaBroker(dataDir?: string): Promise<KafkaBroker> {
  const dir = dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'medic-kafka-')));
  const start = async (): Promise<string> => {
    const out = await runScript(['start', '--data-dir', dir]);
    const address = out.split('\n').pop() ?? '';
    if (!/^127\.0\.0\.1:\d+$/.test(address)) throw new Error(`kafka-broker.sh start printed no address: ${out}`);
    return address;
  };
  const stop = async (): Promise<void> => {
    await runScript(['stop', '--data-dir', dir], 60_000);
  };
  const broker: KafkaBroker = {
    brokers: await start(),
    dataDir: dir,
    stop,
    async restart() {
      await stop();
      broker.brokers = await start();
    },
  };
  return broker;
}
