import { defineConfig } from 'drizzle-kit';

// Used only by `npm run db:generate` to write the next append-only migration into migrations/.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './migrations',
});
