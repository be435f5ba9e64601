import pino, { type Logger } from 'pino';

/** JSON logs to stdout; authorization headers and tokens never reach them. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'medic' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'token', '*.token', 'password', '*.password'], censor: '[redacted]' },
  });
}
