import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from '../src/api/lazyRequestLogger.ts';

/** A real pino logger at `level` writing JSON lines into an array; timestamps off so lines compare. */
function capture(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level, base: { service: 'medic' }, timestamp: false, redact: { paths: ['token'], censor: '[redacted]' } }, new Writable({
    write(chunk: Buffer, _encoding, done) { lines.push(JSON.parse(chunk.toString())); done(); },
  }));
  return { logger, lines };
}

describe('the lazy request logger writes what an eager pino child writes', () => {
  const cases: Array<{ level: string; call: (log: pino.Logger) => void }> = [
    { level: 'info', call: (log) => log.info({ status: 200, token: 'secret' }, 'request') },
    { level: 'info', call: (log) => log.warn('plain message %s', 'with args') },
    { level: 'warn', call: (log) => log.info({ ignored: true }, 'below the level') },
    { level: 'debug', call: (log) => log.child({ plugin: 'x' }).debug({ a: 1 }, 'from a grandchild') },
    { level: 'error', call: (log) => log.error(new Error('boom')) },
  ];
  for (const [i, c] of cases.entries()) {
    it(`case ${i + 1} at level ${c.level}`, () => {
      const eager = capture(c.level);
      const lazy = capture(c.level);
      c.call(eager.logger.child({ reqId: 'req-1' }));
      c.call(lazyChildLogger(lazy.logger, { reqId: 'req-1' }, {}) as unknown as pino.Logger);
      // Stack traces differ by the line that made them; everything else must be the same.
      const withoutStacks = (lines: unknown[]) => JSON.parse(JSON.stringify(lines, (key, value) => (key === 'stack' ? undefined : value)));
      expect(withoutStacks(lazy.lines)).toEqual(withoutStacks(eager.lines));
      expect(eager.lines.length).toBe(c.level === 'warn' ? 0 : 1);
    });
  }

  it('answers level questions like its parent and makes no child for a line below the level', () => {
    const { logger } = capture('warn');
    let children = 0;
    const parent = new Proxy(logger, { get: (target, key, receiver) => (key === 'child' ? (...args: Parameters<pino.Logger['child']>) => { children += 1; return target.child(...args); } : Reflect.get(target, key, receiver)) });
    const lazy = lazyChildLogger(parent, { reqId: 'req-2' }, {}) as unknown as pino.Logger;
    lazy.info('not written');
    lazy.debug('not written');
    expect({ level: lazy.level, info: lazy.isLevelEnabled('info'), warn: lazy.isLevelEnabled('warn'), children }).toEqual({ level: 'warn', info: false, warn: true, children: 0 });
    lazy.warn('written');
    expect(children).toBe(1);
  });
});
