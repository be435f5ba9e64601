import type { Logger } from 'pino';
import { normaliseError } from './errors.ts';

/**
 * The loop of the daemon's background workers (resolution jobs, webhook deliveries): run a pass
 * every `pollMs`, or at once when poked; never two passes at a time (a poke during a pass runs
 * another right after it); a failed pass is logged and the next one tries again — it never
 * crashes the daemon (DESIGN 10.6). `stop()` aborts `signal` and waits for the pass in flight.
 */
export class PollingLoop {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private active = false;
  private again = false;
  private ticking: Promise<void> | null = null;

  constructor(private readonly options: { name: string; pollMs: number; log: Logger; pass: () => Promise<void> }) {}

  /** Aborted by `stop()`: passes hand it to the work they start. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get running(): boolean {
    return this.active;
  }

  start(): void {
    this.active = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    this.controller.abort();
    await this.ticking;
  }

  /** Something is due now: run a pass (or another one right after the current pass). */
  poke(): void {
    if (this.ticking) this.again = true;
    else void this.tick();
  }

  /** One pass now (also what the timer calls); resolves when it is done. Never rejects. */
  tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        do {
          this.again = false;
          await this.options.pass();
        } while (this.again && this.active);
      } catch (error) {
        this.options.log.error({ err: normaliseError(error, this.options.name) }, `${this.options.name} pass failed; will try again`);
      } finally {
        this.ticking = null;
        this.schedule(this.options.pollMs);
      }
    })();
    return this.ticking;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.active) this.timer = setTimeout(() => { void this.tick(); }, ms);
  }
}
