import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/freePort.ts';

export { freePort };

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/medic.js');


export interface DaemonProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends SIGTERM unless the process has already exited, and resolves once it has. */
  stop(): Promise<number | string>;
}

export interface SpawnOptions {
  readyTimeoutMs?: number;
  /** Node flags before the script, e.g. --cpu-prof (which NODE_OPTIONS does not allow). */
  execArgv?: string[];
  /** Keep only this many characters of output: a long run must not grow the caller's memory. Default: all of it. */
  outputLimit?: number;
}

/** Runs `medic serve` as a real child process, exactly as a user would, and waits until /readyz says ready. */
export async function spawnDaemon(env: Record<string, string>, options: SpawnOptions = {}): Promise<DaemonProcess & { readyMs: number }> {
  const { readyTimeoutMs = 60_000, execArgv = [], outputLimit = Infinity } = options;
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, [...execArgv, BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > outputLimit) output = output.slice(-outputLimit);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  let done = false;
  void exited.then(() => { done = true; });
  for (;;) {
    if (done) throw new Error(`medic serve exited before it was ready:\n${output}`);
    if (Date.now() - started > readyTimeoutMs) {
      child.kill('SIGKILL');
      throw new Error(`medic serve was not ready after ${readyTimeoutMs} ms:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = () => {
    if (!done) child.kill('SIGTERM');
    return exited;
  };
  return { child, url, output: () => output, exited, stop, readyMs: Date.now() - started };
}
