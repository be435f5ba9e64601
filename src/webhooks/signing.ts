import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How a receiver knows a webhook came from Medic, untouched and recently.
 *
 * Every delivery is a `POST` with a JSON body and these headers:
 *
 *     X-Medic-Event-Id:   <uuid>            the same on every retry of one delivery: dedupe on it
 *     X-Medic-Timestamp:  <unix seconds>    when this attempt was sent
 *     X-Medic-Signature:  sha256=<hex>      HMAC-SHA256(secret, "<timestamp>.<raw body>")
 *
 * To verify: take the raw request body (bytes as received, before any JSON parsing), compute
 * HMAC-SHA256 with the subscription's secret over `${timestamp}.${body}`, and compare its hex
 * with the header in constant time (`verifySignature` below does exactly that). Reject a
 * timestamp more than a few minutes from your clock, so a captured request cannot be replayed
 * later; then drop any event id you have already processed — a retry after a lost answer
 * sends the same event again (same id, same body; only the timestamp and signature change).
 */
export const EVENT_ID_HEADER = 'x-medic-event-id';
export const TIMESTAMP_HEADER = 'x-medic-timestamp';
export const SIGNATURE_HEADER = 'x-medic-signature';

/** `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` */
export function signPayload(secret: string, timestamp: number | string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * Whether `header` (X-Medic-Signature) is the signature of `body` sent at `timestamp` with
 * `secret`. Constant-time; `toleranceS` additionally rejects timestamps that far from `now`.
 */
export function verifySignature(secret: string, timestamp: number | string, body: string | Buffer, header: string | undefined | null, options: { toleranceS?: number; now?: Date } = {}): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const ts = Number(timestamp);
  if (!Number.isInteger(ts)) return false;
  if (options.toleranceS !== undefined && Math.abs((options.now ?? new Date()).getTime() / 1000 - ts) > options.toleranceS) return false;
  const expected = Buffer.from(signPayload(secret, ts, body).slice(7), 'hex');
  const given = Buffer.from(header.slice(7), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The headers of one attempt. */
export function deliveryHeaders(input: { eventId: string; secret: string; body: string; now?: Date }): Record<string, string> {
  const timestamp = Math.floor((input.now ?? new Date()).getTime() / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'PipelineMedic-Webhook/1',
    'X-Medic-Event-Id': input.eventId,
    'X-Medic-Timestamp': String(timestamp),
    'X-Medic-Signature': signPayload(input.secret, timestamp, input.body),
  };
}
