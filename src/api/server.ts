import Fastify, { LogController, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import YAML from 'yaml';
import type { Database } from '../db/client.ts';
import type { Metrics } from '../metrics.ts';
import { ApiError, errorHandler } from './errors.ts';
import { createRateLimiter } from './rateLimit.ts';
import { roleAllows, type Role, type TokenIdentity, type TokenVerifier } from './tokens.ts';
import { signalRoutes } from './routes/signalRoutes.ts';
import { catalogRoutes } from './routes/catalogRoutes.ts';
import { tableRoutes } from './routes/tableRoutes.ts';
import { rcaRoutes } from './routes/rcaRoutes.ts';
import { opsRoutes } from './routes/opsRoutes.ts';
import { deadLetterRoutes } from './routes/deadLetterRoutes.ts';
import { incidentRoutes } from './routes/incidentRoutes.ts';
import { webhookRoutes, type WebhookApiSettings } from '../webhooks/webhookRoutes.ts';
import { uiRoutes } from './routes/uiRoutes.ts';
import type { EventKind } from '../signals/kafkaEvents.ts';

/** What the routes need; passed in, never imported as globals (DESIGN 10.4). */
export interface ApiDeps {
  database: Database;
  metrics: Metrics;
  tokens: TokenVerifier;
  log: Logger;
  bodyLimitBytes: number;
  platformTeam: string;
  /** Tells the diagnosis worker a signal was stored, so it does not wait for its poll. */
  onSignalStored: () => void;
  /** Tells the resolution worker a job is due now (a one-click retry). */
  onResolutionScheduled: () => void;
  manualRetriesPer10Min: number;
  /** Requests a minute per token (a burst of a sixth of it is allowed). */
  rateLimitPerMinute: number;
  webhooks?: WebhookApiSettings;
  /** Which signal kind each Kafka topic carries, for dead-letter replay. */
  topicKinds: Map<string, EventKind>;
  /** False while starting up or shutting down; /readyz reports it. */
  isAccepting: () => boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The least role a route requires; routes without one are public (health probes, docs). */
    role?: Role;
  }
  interface FastifyRequest {
    identity: TokenIdentity | null;
  }
}

export type App = FastifyInstance<any, any, any, Logger, TypeBoxTypeProvider>;

export async function buildServer(deps: ApiDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.bodyLimitBytes,
    // One log line per request is written by our onResponse hook, with the caller's token name.
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
    // Route params may be table names with dots and colons; keep them whole.
    routerOptions: { maxParamLength: 300 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('identity', null);
  // The catalog is usually kept as YAML; accept it as it is (the schema check that follows is the same).
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, YAML.parse(text as string) ?? {});
    } catch (error) {
      done(new ApiError(400, 'malformed_yaml', `body is not valid YAML: ${(error as Error).message}`), undefined);
    }
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` } });
  });

  const limiter = createRateLimiter({ perMinute: deps.rateLimitPerMinute, burst: Math.max(10, Math.ceil(deps.rateLimitPerMinute / 6)) });
  app.addHook('onRequest', async (request, reply) => {
    const required = request.routeOptions.config.role;
    if (!required) return;
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new ApiError(401, 'unauthenticated', 'missing bearer token: send Authorization: Bearer <token>');
    const identity = await deps.tokens.verify(match[1]!);
    if (!identity) throw new ApiError(401, 'unauthenticated', 'unknown or revoked token');
    if (!roleAllows(identity.role, required)) throw new ApiError(403, 'forbidden', `this route needs the ${required} role; the token "${identity.name}" has ${identity.role}`);
    const waitS = limiter.take(identity.name);
    if (waitS > 0) {
      void reply.header('retry-after', String(waitS));
      throw new ApiError(429, 'rate_limited', `token "${identity.name}" is over its limit of ${deps.rateLimitPerMinute} requests a minute (MEDIC_RATE_LIMIT_PER_MIN); retry in ${waitS} s`);
    }
    request.identity = identity;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    const level = reply.statusCode >= 500 ? 'error' : reply.statusCode >= 400 ? 'warn' : 'info';
    if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics') {
      request.log[level]({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime), who: request.identity?.name }, 'request');
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'Pipeline Medic', version: '0.1.0', description: 'Signals in, diagnoses and per-table health out.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: ({ schema, url, route }) => {
      const role = (route.config as { role?: Role } | undefined)?.role;
      const transformed = { ...(schema as Record<string, unknown>) };
      if (role) {
        transformed.security = [{ bearer: [] }];
        transformed.description = `${(schema as { description?: string })?.description ?? ''}\n\nRequires the \`${role}\` role.`.trim();
      }
      return { schema: transformed, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(opsRoutes(deps));
  await app.register(signalRoutes(deps));
  await app.register(catalogRoutes(deps));
  await app.register(tableRoutes(deps));
  await app.register(rcaRoutes(deps));
  await app.register(deadLetterRoutes(deps));
  await app.register(incidentRoutes(deps));
  await app.register(webhookRoutes(deps));
  await app.register(uiRoutes(deps));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
