import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ROLES } from '../tokens.ts';
import { errorResponses } from '../schemas.ts';
import type { ApiDeps } from '../server.ts';

/** Where `npm run build:ui` (vite build) writes the Data Health Workbench. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../../web/dist', import.meta.url));

/**
 * Paths that belong to the API and the daemon's own pages: the SPA fallback never answers
 * them with the app, so an unknown API path stays a JSON 404.
 */
const RESERVED = ['/v1', '/api', '/docs', '/openapi.json', '/metrics', '/healthz', '/readyz', '/assets'];

/**
 * The page's security headers. The app is one bundled script and one stylesheet from this
 * origin; nothing inline, nothing from elsewhere, no framing.
 */
export const UI_SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': [
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
};

const NOT_BUILT_PAGE = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Workbench not built · Pipeline Medic</title></head>
<body>
<main>
<h1>The Data Health Workbench has not been built</h1>
<p>The daemon serves the web app from <code>${escapeHtml(dir)}</code>, which has no <code>index.html</code>.</p>
<p>Build it with <code>npm run build:ui</code> (<code>npm start</code> does it first) and restart the daemon.</p>
<p>The HTTP API works meanwhile: <a href="/docs">/docs</a>, <a href="/openapi.json">/openapi.json</a>.</p>
</main>
</body></html>
`;

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function isReserved(url: string): boolean {
  const pathname = url.split('?')[0] ?? url;
  return RESERVED.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));
}

function htmlHeaders(reply: FastifyReply): FastifyReply {
  return reply.headers({ ...UI_SECURITY_HEADERS, 'cache-control': 'no-store' }).type('text/html; charset=utf-8');
}

/**
 * The Data Health Workbench (issue 8): the single-page app built into web/dist, served at
 * `/` with a fallback to index.html for its client routes (/tables/lake.orders, /rca/{id},
 * /incidents), and `GET /v1/whoami`, which tells the app the token's name and role.
 * Without a build, every page is a 503 that says how to build it; the API is unaffected.
 */
export const uiRoutes = (_deps: ApiDeps, options: { dir?: string } = {}): FastifyPluginAsync => async (fastify) => {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const dir = path.resolve(options.dir ?? DEFAULT_UI_DIR);
  const indexFile = path.join(dir, 'index.html');
  const built = existsSync(indexFile);

  app.get('/v1/whoami', {
    config: { role: 'reader' },
    schema: {
      tags: ['auth'], summary: 'The calling token\'s name and role (the workbench shows actions by role)',
      response: { 200: Type.Object({ name: Type.String(), role: Type.Union(ROLES.map((r) => Type.Literal(r))) }), ...errorResponses },
    },
  }, async (request) => ({ name: request.identity!.name, role: request.identity!.role }));

  if (built) {
    // Hashed bundles (assets/index-<hash>.js): cached for good; a rebuild gets new names.
    await app.register(fastifyStatic, {
      root: path.join(dir, 'assets'),
      prefix: '/assets/',
      wildcard: true,
      decorateReply: false,
      index: false,
      schemaHide: true,
      immutable: true,
      maxAge: '365d',
      setHeaders: (res) => { res.setHeader('x-content-type-options', 'nosniff'); res.setHeader('cross-origin-resource-policy', 'same-origin'); },
    });
  }

  const sendIndex = async (reply: FastifyReply) => {
    if (!built) return htmlHeaders(reply).code(503).send(NOT_BUILT_PAGE(dir));
    try {
      // Read per request (it is small): a rebuild while the daemon runs is picked up.
      return htmlHeaders(reply).send(await fs.readFile(indexFile, 'utf8'));
    } catch {
      return htmlHeaders(reply).code(503).send(NOT_BUILT_PAGE(dir));
    }
  };

  app.get('/favicon.svg', { schema: { hide: true } }, async (_request, reply) => {
    try {
      return await reply.headers({ 'x-content-type-options': 'nosniff', 'cache-control': 'public, max-age=86400' }).type('image/svg+xml').send(await fs.readFile(path.join(dir, 'favicon.svg')));
    } catch {
      return reply.callNotFound();
    }
  });

  app.get('/', { schema: { hide: true } }, async (_request, reply) => sendIndex(reply));
  // The app's own routes (deep links, reloads); API and daemon paths keep their JSON 404.
  app.get('/*', { schema: { hide: true } }, async (request, reply) => {
    if (isReserved(request.url)) return reply.callNotFound();
    return sendIndex(reply);
  });
};
