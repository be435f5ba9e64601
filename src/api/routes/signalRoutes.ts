import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AirflowCallbackSchema, normaliseAirflowCallback } from '../../signals/airflowSignal.ts';
import { DqFailureSchema, normaliseDqFailure, normaliseSlaMiss, SlaMissSchema } from '../../signals/kafkaEvents.ts';
import { storeSignals, type NewSignal } from '../../signals/signalStore.ts';
import { catalogTableNames, tablesForTask } from '../../catalog/catalogStore.ts';
import { airflowIdentity, lineageTable, normaliseRunEvent, RunEventSchema } from '../../signals/openLineage.ts';
import { Type } from '@sinclair/typebox';
import { errorResponses, SignalAcceptedSchema } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';

const accepted = { 200: SignalAcceptedSchema, 202: SignalAcceptedSchema, ...errorResponses };

/** Signal intake: validated, persisted, acknowledged only after the commit (DESIGN 1, 3). */
export const signalRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  /** Stores the batch, then answers 202 for new signals or 200 duplicate for a repeat. */
  async function accept(request: FastifyRequest, reply: FastifyReply, source: string, batch: NewSignal[], context: Record<string, unknown>) {
    const claim = deps.intake?.reserve(batch.length) ?? null;
    const stored = await storeSignals(deps.database.db, batch, claim ?? undefined).catch((error: unknown) => {
      deps.intake?.adopt(claim, []);
      throw error;
    });
    deps.intake?.adopt(claim, stored.claimed);
    if (stored.duplicate) {
      deps.metrics.signalsDuplicate.inc({ source });
      request.log.info({ signal_ids: stored.ids, ...context }, 'duplicate signal; nothing changed');
      return reply.code(200).send({ signal_id: stored.ids[0]!, signal_ids: stored.ids, duplicate: true });
    }
    deps.metrics.signalsReceived.inc({ kind: batch[0]!.kind, source }, stored.inserted);
    request.log.info({ signal_ids: stored.ids, kind: batch[0]!.kind, tables: batch.map((s) => s.table), ...context }, 'signal accepted');
    if (stored.inserted > stored.claimed.length) deps.onSignalStored();
    return reply.code(202).send({ signal_id: stored.ids[0]!, signal_ids: stored.ids, duplicate: false });
  }

  app.post('/v1/signals/airflow', {
    config: { role: 'ingest' },
    schema: {
      tags: ['signals'],
      summary: 'Airflow task callback (failure, retry, success)',
      description: 'Stored before the answer: 202 for a new signal, 200 with duplicate=true for a repeat (same dag/task/run/map_index/try/event).',
      body: AirflowCallbackSchema,
      response: accepted,
    },
  }, async (request, reply) => {
    const body = request.body;
    const catalogTables = body.tables && body.tables.length > 0 ? [] : await tablesForTask(deps.database.db, body.dag_id, body.task_id);
    const batch = normaliseAirflowCallback(body, catalogTables, new Date());
    return accept(request, reply, 'airflow', batch, { event: body.event, dag_id: body.dag_id, task_id: body.task_id, run_id: body.run_id });
  });

  app.post('/api/v1/lineage', {
    config: { role: 'ingest' },
    schema: {
      tags: ['signals'], summary: 'OpenLineage RunEvent (spec 2-0-2): FAIL → failure, COMPLETE → success',
      description: 'Any OpenLineage producer (Airflow\'s provider, Spark, dbt) is a signal source. START, RUNNING and OTHER are acknowledged with 200 {"signal": false}; the table is the catalog table named by an output, else the catalog pipeline dag_id.task_id equal to the job name, else the first output.',
      body: RunEventSchema,
      response: { ...accepted, 200: Type.Union([SignalAcceptedSchema, Type.Object({ signal: Type.Literal(false), event_type: Type.String() })]) },
    },
  }, async (request, reply) => {
    const event = request.body;
    if (!['FAIL', 'ABORT', 'COMPLETE'].includes(event.eventType)) {
      return reply.code(200).send({ signal: false as const, event_type: event.eventType });
    }
    const id = airflowIdentity(event);
    const names = [...(event.outputs ?? []).flatMap((o) => [o.name, `${o.namespace}.${o.name}`])];
    const known = names.length > 0 ? await catalogTableNames(deps.database.db, names) : new Set<string>();
    const byJob = id.dag_id ? (await tablesForTask(deps.database.db, id.dag_id, id.task_id))[0] ?? null : null;
    const signal = normaliseRunEvent(event, lineageTable(event, { tableNames: known, byJob }), new Date())!;
    return accept(request, reply, 'openlineage', [signal], { event_type: event.eventType, job: event.job.name, run_id: event.run.runId });
  });

  app.post('/v1/signals/sla-miss', {
    config: { role: 'ingest' },
    schema: {
      tags: ['signals'], summary: 'An SLA miss (the payload of Kafka medic.sla-miss)',
      description: 'Deduplicated by the event id: a redelivery answers 200 with duplicate=true.',
      body: SlaMissSchema, response: accepted,
    },
  }, async (request, reply) => accept(request, reply, 'http', [normaliseSlaMiss(request.body, 'http', new Date())], { event_id: request.body.id }));

  app.post('/v1/signals/dq-failure', {
    config: { role: 'ingest' },
    schema: {
      tags: ['signals'], summary: 'A data-quality test failure (the payload of Kafka medic.dq-failure)',
      description: 'Deduplicated by the event id: a redelivery answers 200 with duplicate=true.',
      body: DqFailureSchema, response: accepted,
    },
  }, async (request, reply) => accept(request, reply, 'http', [normaliseDqFailure(request.body, 'http', new Date())], { event_id: request.body.id }));
};
