import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { listDeadLetters, replayDeadLetter } from '../../signals/deadLetters.ts';
import { ApiError } from '../errors.ts';
import { CursorQuery, errorResponses, LimitQuery, listOf, Nullable } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';
import { parseCursor } from '../cursor.ts';

const DeadLetterSchema = Type.Object({
  id: Type.String({ format: 'uuid' }), topic: Type.String(), partition: Type.Integer(), offset: Type.String(), reason: Type.String(),
  key: Nullable(Type.String()), value_bytes: Type.Integer(), value_preview: Nullable(Type.String()), value_base64: Nullable(Type.String()),
  headers: Nullable(Type.Record(Type.String(), Type.String())), received_at: Type.String({ format: 'date-time' }),
  replayed_at: Nullable(Type.String({ format: 'date-time' })), replayed_signal_id: Nullable(Type.String({ format: 'uuid' })),
}, { $id: 'DeadLetter' });

/** Rejected Kafka messages, for admins to inspect and replay (DESIGN 3.7, 8). */
export const deadLetterRoutes = (deps: ApiDeps): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { db } = deps.database;

  app.get('/v1/dead-letters', {
    config: { role: 'admin' },
    schema: {
      tags: ['signals'], summary: 'Kafka messages that could not become signals, newest first',
      querystring: Type.Object({ topic: Type.Optional(Type.String({ maxLength: 250 })), pending: Type.Optional(Type.Boolean({ description: 'only those not replayed yet' })), cursor: CursorQuery, limit: LimitQuery }, { additionalProperties: false }),
      response: { 200: listOf(DeadLetterSchema), ...errorResponses },
    },
  }, async (request) => {
    const { cursor, limit, ...filters } = request.query;
    return listDeadLetters(db, filters, limit ?? 100, parseCursor(cursor, 'uuid'));
  });

  app.post('/v1/dead-letters/:id/replay', {
    config: { role: 'admin' },
    schema: {
      tags: ['signals'], summary: 'Parse a dead letter again and store the signal it makes (idempotent)',
      params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
      response: { 200: Type.Object({ signal_id: Type.String({ format: 'uuid' }), duplicate: Type.Boolean(), already_replayed: Type.Boolean() }), 202: Type.Object({ signal_id: Type.String({ format: 'uuid' }), duplicate: Type.Boolean(), already_replayed: Type.Boolean() }), 409: errorResponses[400], 422: errorResponses[400], ...errorResponses },
    },
  }, async (request, reply) => {
    const outcome = await replayDeadLetter(db, request.params.id, deps.topicKinds);
    switch (outcome.status) {
      case 'not_found': throw new ApiError(404, 'not_found', `no dead letter ${request.params.id}`);
      case 'unknown_topic': throw new ApiError(409, 'unknown_topic', `topic ${outcome.topic} is not one Medic consumes now (check MEDIC_KAFKA_TOPIC_*)`);
      case 'still_invalid': throw new ApiError(422, 'still_invalid', `the message is still not a valid event: ${outcome.reason}`);
      case 'replayed':
        if (!outcome.duplicate) deps.onSignalStored();
        request.log.info({ dead_letter: request.params.id, signal_id: outcome.signalId, duplicate: outcome.duplicate }, 'dead letter replayed');
        return reply.code(outcome.duplicate ? 200 : 202).send({ signal_id: outcome.signalId, duplicate: outcome.duplicate, already_replayed: outcome.alreadyReplayed });
    }
  });
};
