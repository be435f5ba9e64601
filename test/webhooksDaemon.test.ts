import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDaemon, waitFor, type TestDaemon } from './support/testDaemon.ts';
import { startWebhookReceiver } from './support/webhookReceiver.ts';
import { verifySignature } from '../src/webhooks/signing.ts';
import { createToken } from '../src/api/tokens.ts';

/** Webhooks wired into the real daemon: admin-only routes behind the bearer check, and a health change delivered, signed. */
let daemon: TestDaemon;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
const SECRET = 'a-webhook-secret-0123456789';

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  daemon = await startTestDaemon('webhooks_daemon', { MEDIC_SLA_MONITOR: 'off', MEDIC_WEBHOOK_POLL_MS: '100', MEDIC_WEBHOOK_BACKOFF_BASE_MS: '100', MEDIC_PUBLIC_URL: 'https://medic.example.internal' });
});

afterAll(async () => {
  await daemon?.close();
  await receiver?.close();
});

describe('webhooks in the daemon', () => {
  it('needs the admin role, never returns the secret, and delivers a signed medic event on a health change', async () => {
    const reader = await createToken(daemon.database.db, 'viewer', 'reader');
    const body = { url: receiver.url("/hook"), secret: SECRET, format: 'medic', filter: { tables: ['lake.hooked'] } };
    expect((await daemon.call('POST', '/v1/subscriptions', { body, token: reader })).status).toBe(403);
    expect((await daemon.call('POST', '/v1/subscriptions', { body, token: null })).status).toBe(401);
    const created = await daemon.call('POST', '/v1/subscriptions', { body });
    expect(created.status).toBe(201);
    expect(JSON.stringify(created.body)).not.toContain(SECRET);

    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'hooked', task_id: 't', run_id: 'r1', try_number: 1, tables: ['lake.hooked'], exception: { type: 'KeyError', message: "'x'" } } });
    await daemon.call('POST', '/v1/signals/airflow', { body: { event: 'failure', dag_id: 'other', task_id: 't', run_id: 'r1', try_number: 1, tables: ['lake.not_hooked'], exception: { type: 'KeyError', message: "'x'" } } });
    const delivery = await waitFor(async () => receiver.received.find((r) => r.path === '/hook'), 15_000, 'the webhook');
    expect(verifySignature(SECRET, String(delivery.headers['x-medic-timestamp']), delivery.body, String(delivery.headers['x-medic-signature']))).toBe(true);
    expect(delivery.json).toMatchObject({ table: 'lake.hooked', new_status: 'unhealthy' });
    expect(delivery.body).toContain('https://medic.example.internal/v1/tables/lake.hooked/health');
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.received.filter((r) => r.path === '/hook')).toHaveLength(1);

    const log = await daemon.call('GET', `/v1/subscriptions/${created.body.id}/deliveries`);
    expect(log.body.items).toEqual([expect.objectContaining({ state: 'delivered', attempts: 1 })]);
    const metrics = await daemon.call('GET', '/metrics', { token: null });
    expect(metrics.body).toContain('medic_webhook_deliveries_total{format="medic"} 1');
  });
});
