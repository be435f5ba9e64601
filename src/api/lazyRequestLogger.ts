import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

/**
 * A request's logger that makes its pino child (with the request id) only when something is
 * logged at an enabled level. Fastify makes one per request; pino's child() costs a few
 * microseconds (bindings serialised through the redaction paths), a tenth of a cached
 * GET /v1/tables/{table}/health, and most requests log nothing below the configured level.
 * The level methods, `level`, `isLevelEnabled`, `bindings` and `child` are what fastify, its
 * plugins and our routes use; a log line is the same as the eager child's.
 */
class LazyRequestLogger {
  private real: Logger | null = null;

  constructor(private readonly parent: Logger, private readonly childBindings: Bindings, private readonly options: ChildLoggerOptions) {}

  private get logger(): Logger {
    this.real ??= this.parent.child(this.childBindings, this.options);
    return this.real;
  }

  get level(): string { return this.real?.level ?? this.parent.level; }
  set level(level: string) { this.logger.level = level; }

  isLevelEnabled(level: string): boolean {
    return (this.real ?? this.parent).isLevelEnabled(level);
  }

  fatal(...args: unknown[]): void { this.write('fatal', args); }
  error(...args: unknown[]): void { this.write('error', args); }
  warn(...args: unknown[]): void { this.write('warn', args); }
  info(...args: unknown[]): void { this.write('info', args); }
  debug(...args: unknown[]): void { this.write('debug', args); }
  trace(...args: unknown[]): void { this.write('trace', args); }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.logger.child(bindings, options);
  }

  bindings(): Bindings {
    return this.logger.bindings();
  }

  private write(level: Level, args: unknown[]): void {
    if (!this.isLevelEnabled(level)) return;
    (this.logger[level] as (...a: unknown[]) => void)(...args);
  }
}

/**
 * Fastify's `childLoggerFactory`, for a server whose `loggerInstance` is a pino logger. A route
 * with its own log level gets an eager child (the lazy one asks the parent's level until it exists).
 */
export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  const pinoParent = parent as unknown as Logger;
  if (options.level !== undefined) return pinoParent.child(bindings, options);
  return new LazyRequestLogger(pinoParent, bindings, options) as unknown as FastifyBaseLogger;
}
