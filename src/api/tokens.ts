import crypto, { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.ts';
import { apiTokens } from '../db/schema.ts';

/** Roles of DESIGN 8. `ingest` may only send signals; the others are ordered, each including the one before. */
export const ROLES = ['ingest', 'reader', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Whether a token's role may call a route that requires `required`. */
export function roleAllows(held: Role, required: Role): boolean {
  if (held === 'admin') return true;
  if (required === 'ingest') return held === 'ingest' || held === 'operator';
  const ladder: Role[] = ['reader', 'operator', 'admin'];
  return ladder.indexOf(held) >= ladder.indexOf(required) && held !== 'ingest';
}

/** SHA-256, hex. Every authenticated request hashes its token: the one-shot crypto.hash (Node ≥ 20.12) is a third of the cost. */
export const hashToken: (token: string) => string = typeof crypto.hash === 'function'
  ? (token) => crypto.hash('sha256', token)
  : (token) => createHash('sha256').update(token).digest('hex');

/** Tokens carry a recognisable prefix so a leaked one is easy to grep for and revoke. */
export function generateToken(): string {
  return `medic_${randomBytes(24).toString('base64url')}`;
}

export interface TokenIdentity { name: string; role: Role }

const ADMIN_IDENTITY: TokenIdentity = Object.freeze({ name: 'admin', role: 'admin' });

/**
 * Verifies bearer tokens: the admin token held in memory (compared in constant time, by
 * hash) and the hashed tokens in `api_tokens`.
 */
export class TokenVerifier {
  private readonly adminHash: Buffer;
  /**
   * Verified tokens by hash, for `cacheMs`: a busy dashboard or ingest client costs one lookup
   * every few seconds, not one per request. A revocation takes effect within `cacheMs`.
   */
  private readonly verified = new Map<string, { identity: TokenIdentity; until: number }>();

  constructor(private readonly db: Db, adminToken: string, private readonly cacheMs = 5000) {
    this.adminHash = Buffer.from(hashToken(adminToken), 'hex');
  }

  /**
   * The identity of the admin token or of a token verified within `cacheMs`, without waiting;
   * undefined when only the database can tell (then call `verify`).
   */
  verifyFromMemory(token: string): TokenIdentity | undefined {
    const hash = hashToken(token);
    if (timingSafeEqual(Buffer.from(hash, 'hex'), this.adminHash)) return ADMIN_IDENTITY;
    const cached = this.verified.get(hash);
    return cached && cached.until > Date.now() ? cached.identity : undefined;
  }

  async verify(token: string): Promise<TokenIdentity | null> {
    const known = this.verifyFromMemory(token);
    if (known) return known;
    const hash = hashToken(token);
    // The lookup is by hash, so timing reveals nothing about the token itself.
    const [row] = await this.db.select({ name: apiTokens.name, role: apiTokens.role }).from(apiTokens)
      .where(and(eq(apiTokens.tokenHash, hash), isNull(apiTokens.revokedAt)));
    if (!row) {
      this.verified.delete(hash);
      return null;
    }
    const identity = { name: row.name, role: row.role as Role };
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(hash, { identity, until: Date.now() + this.cacheMs });
    return identity;
  }
}

/** Creates a token; only its hash is stored, the token itself is returned once. */
export async function createToken(db: Db, name: string, role: Role): Promise<string> {
  const token = generateToken();
  await db.insert(apiTokens).values({ id: randomUUID(), name, role, tokenHash: hashToken(token) });
  return token;
}

export async function revokeToken(db: Db, name: string): Promise<boolean> {
  const rows = await db.update(apiTokens).set({ revokedAt: new Date() })
    .where(and(eq(apiTokens.name, name), isNull(apiTokens.revokedAt))).returning({ id: apiTokens.id });
  return rows.length > 0;
}

export async function listTokens(db: Db) {
  return db.select({ name: apiTokens.name, role: apiTokens.role, created_at: apiTokens.createdAt, revoked_at: apiTokens.revokedAt }).from(apiTokens).orderBy(apiTokens.createdAt);
}

/**
 * The admin token: MEDIC_ADMIN_TOKEN when set; otherwise the one kept in
 * `$MEDIC_HOME/admin-token`, generated (mode 0600) on the first start. `generated` tells the
 * caller to print it, once.
 */
export async function loadAdminToken(configured: string | null, home: string): Promise<{ token: string; generated: boolean; file: string | null }> {
  if (configured) return { token: configured, generated: false, file: null };
  const file = path.join(home, 'admin-token');
  try {
    const token = (await fs.readFile(file, 'utf8')).trim();
    if (token.length >= 16) return { token, generated: false, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fs.mkdir(home, { recursive: true });
  const token = generateToken();
  // 'wx' fails if another process created it meanwhile; then use theirs.
  try {
    await fs.writeFile(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { token: (await fs.readFile(file, 'utf8')).trim(), generated: false, file };
    throw error;
  }
  return { token, generated: true, file };
}

