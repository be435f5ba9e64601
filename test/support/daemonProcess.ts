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
}

/** Runs `medic serve` as a real child process, exactly as a user would, and waits until /readyz says ready. */
export async function spawnDaemon(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<DaemonProcess & { readyMs: number }> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'warn', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString(); });
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
  return { child, url, output: () => output, exited, readyMs: Date.now() - started };
}
