import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import YAML from 'yaml';
import type { Database } from '../db/client.ts';
import type { Metrics } from '../metrics.ts';
import { ApiError, errorHandler } from './errors.ts';
import { restrictDateTimeFormat } from './dateTimeFormat.ts';
import { MAX_YAML_NESTING, yamlNestingBound } from './yamlNesting.ts';
import { createRateLimiter } from './rateLimit.ts';
import { lazyChildLogger } from './lazyRequestLogger.ts';
import { roleAllows, type Role, type TokenIdentity, type TokenVerifier } from './tokens.ts';
import { signalRoutes } from './routes/signalRoutes.ts';
import { catalogRoutes } from './routes/catalogRoutes.ts';
import { tableRoutes } from './routes/tableRoutes.ts';
import { startTableHealthReader } from '../db/healthCache.ts';
import { rcaRoutes } from './routes/rcaRoutes.ts';
import { opsRoutes } from './routes/opsRoutes.ts';
import { deadLetterRoutes } from './routes/deadLetterRoutes.ts';
import { incidentRoutes } from './routes/incidentRoutes.ts';
import { webhookRoutes, type WebhookApiSettings } from '../webhooks/webhookRoutes.ts';
import { uiRoutes } from './routes/uiRoutes.ts';
import type { EventKind } from '../signals/kafkaEvents.ts';
import type { SignalIntake } from '../signals/signalStore.ts';

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
  /** The diagnosis worker, which takes new signals it has room for as they are stored (no claim needed). */
  intake?: SignalIntake;
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

const BEARER = /^Bearer\s+(\S+)$/i;

/**
 * Routes that change what GET /v1/tables/{table}/health shows in the request's own
 * transaction (the catalog, one-click actions). Signals do not: their diagnosis comes later.
 */
const HEALTH_WRITING_ROUTES = new Set(['/v1/catalog', '/v1/catalog/tables/:table', '/v1/rca/:id/actions/:action']);

export type App = FastifyInstance<any, any, any, Logger, TypeBoxTypeProvider>;

export async function buildServer(deps: ApiDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.bodyLimitBytes,
    // One log line per request is written by our onResponse hook, with the caller's token name.
    logController: new LogController({ disableRequestLogging: true }),
    // Each request's child logger is made on its first enabled log line, not for every request.
    childLoggerFactory: lazyChildLogger,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false }, onCreate: restrictDateTimeFormat },
    // Route params may be table names with dots and colons; keep them whole.
    routerOptions: { maxParamLength: 300 },
    // The router's own refusals (a path parameter over 300 characters: 414; a malformed %-escape: 400) get the one error shape too.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorateRequest('identity', null);
  // The catalog is usually kept as YAML; accept it as it is (the schema check that follows is the same).
  app.addContentTypeParser(['application/yaml', 'application/x-yaml', 'text/yaml'], { parseAs: 'string' }, (_request, text, done) => {
    const nesting = yamlNestingBound(text as string);
    if (nesting > MAX_YAML_NESTING) {
      done(new ApiError(400, 'malformed_yaml', `body nests about ${nesting} levels deep; at most ${MAX_YAML_NESTING} are accepted`), undefined);
      return;
    }
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

  // The hot read of dashboards and incident tools, served from memory and kept correct across
  // replicas by the change feed (src/db/healthCache.ts); stopped with the server.
  const healthReader = startTableHealthReader({ pool: deps.database.pool, log: deps.log, registry: deps.metrics.registry });
  app.addHook('onClose', () => healthReader.stop());

  const limiter = createRateLimiter({ perMinute: deps.rateLimitPerMinute, burst: Math.max(10, Math.ceil(deps.rateLimitPerMinute / 6)) });
  /** The caller may proceed (undefined) or not (the error to answer with). */
  const admit = (request: FastifyRequest, reply: FastifyReply, identity: TokenIdentity | null, required: Role): ApiError | undefined => {
    if (!identity) return new ApiError(401, 'unauthenticated', 'unknown or revoked token');
    if (!roleAllows(identity.role, required)) return new ApiError(403, 'forbidden', `this route needs the ${required} role; the token "${identity.name}" has ${identity.role}`);
    const waitS = limiter.take(identity.name);
    if (waitS > 0) {
      void reply.header('retry-after', String(waitS));
      return new ApiError(429, 'rate_limited', `token "${identity.name}" is over its limit of ${deps.rateLimitPerMinute} requests a minute (MEDIC_RATE_LIMIT_PER_MIN); retry in ${waitS} s`);
    }
    request.identity = identity;
    return undefined;
  };
  // Callback-style hooks: a token verified in the last few seconds is admitted without a promise
  // or a database round trip; this runs on every API request (issue 9, scenario 3).
  app.addHook('onRequest', (request, reply, done) => {
    const { config, url } = request.routeOptions;
    // Read-your-writes: this process's health reads go to PostgreSQL until the feed has seen this change.
    if (request.method !== 'GET' && url !== undefined && HEALTH_WRITING_ROUTES.has(url)) {
      const ended = healthReader.localWriteStarted();
      reply.raw.once('finish', ended).once('close', ended);
    }
    const required = config.role;
    if (!required) return done();
    const header = request.headers.authorization;
    const match = header ? BEARER.exec(header) : null;
    if (!match) return done(new ApiError(401, 'unauthenticated', 'missing bearer token: send Authorization: Bearer <token>'));
    const token = match[1]!;
    const known = deps.tokens.verifyFromMemory(token);
    if (known) return done(admit(request, reply, known, required));
    deps.tokens.verify(token).then((identity) => done(admit(request, reply, identity, required)), done);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: request.method, route, status: String(reply.statusCode) });
    const level = reply.statusCode >= 500 ? 'error' : reply.statusCode >= 400 ? 'warn' : 'info';
    if (route !== '/healthz' && route !== '/readyz' && route !== '/metrics' && deps.log.isLevelEnabled(level)) {
      request.log[level]({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime), who: request.identity?.name }, 'request');
    }
    done();
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
  await app.register(tableRoutes(deps, healthReader));
  await app.register(rcaRoutes(deps));
  await app.register(deadLetterRoutes(deps));
  await app.register(incidentRoutes(deps));
  await app.register(webhookRoutes(deps));
  await app.register(uiRoutes(deps));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
