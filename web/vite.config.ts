import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The Data Health Workbench: built into web/dist and served by the daemon at `/`
 * (src/api/routes/uiRoutes.ts). Everything is bundled; nothing is fetched from a CDN.
 * `npm run dev:ui` is not wired: build with `npm run build:ui` and run `npm start`.
 */
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The daemon's CSP allows scripts and styles from 'self' only: no inline <script>/<style>.
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `vite --config web/vite.config.ts` for front-end work against a daemon on :8080.
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
});
