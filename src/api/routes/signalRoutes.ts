import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AirflowCallbackSchema, normaliseAirflowCallback } from '../../signals/airflowSignal.ts';
import { storeSignals } from '../../signals/signalStore.ts';
import { tablesForTask } from '../../catalog/catalogStore.ts';
import { errorResponses, SignalAcceptedSchema } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';

/** Signal intake: validated, persisted, acknowledged only after the commit (DESIGN 1, 3). */
export const signalRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.post('/v1/signals/airflow', {
    config: { role: 'ingest' },
    schema: {
      tags: ['signals'],
      summary: 'Airflow task callback (failure, retry, success)',
      description: 'Stored before the answer: 202 for a new signal, 200 with duplicate=true for a repeat (same dag/task/run/map_index/try/event).',
      body: AirflowCallbackSchema,
      response: { 200: SignalAcceptedSchema, 202: SignalAcceptedSchema, ...errorResponses },
    },
  }, async (request, reply) => {
    const body = request.body;
    const catalogTables = body.tables && body.tables.length > 0 ? [] : await tablesForTask(deps.database.db, body.dag_id, body.task_id);
    const batch = normaliseAirflowCallback(body, catalogTables, new Date());
    const stored = await storeSignals(deps.database.db, batch);
    if (stored.duplicate) {
      deps.metrics.signalsDuplicate.inc({ source: 'airflow' });
      return reply.code(200).send({ signal_id: stored.ids[0]!, signal_ids: stored.ids, duplicate: true });
    }
    deps.metrics.signalsReceived.inc({ kind: batch[0]!.kind, source: 'airflow' }, stored.inserted);
    request.log.info({ signal_ids: stored.ids, event: body.event, dag_id: body.dag_id, task_id: body.task_id, run_id: body.run_id, tables: batch.map((s) => s.table) }, 'signal accepted');
    deps.onSignalStored();
    return reply.code(202).send({ signal_id: stored.ids[0]!, signal_ids: stored.ids, duplicate: false });
  });
};
