import { useEffect, useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/** A small History-API router: the daemon answers every client route with index.html. */

const listeners = new Set<() => void>();
const notify = () => { for (const listener of listeners) listener(); };
window.addEventListener('popstate', notify);

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => { listeners.delete(listener); };
}

const snapshot = () => window.location.pathname + window.location.search;

export function navigate(to: string, options: { replace?: boolean } = {}) {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  notify();
  if (!options.replace) window.scrollTo(0, 0);
}

export interface Location { path: string; query: URLSearchParams }

export function useLocation(): Location {
  const current = useSyncExternalStore(subscribe, snapshot);
  const [path, search = ''] = current.split('?');
  return { path: path ?? '/', query: new URLSearchParams(search) };
}

export type Route =
  | { name: 'overview' }
  | { name: 'table'; table: string }
  | { name: 'rca'; id: string }
  | { name: 'incidents' }
  | { name: 'incident'; id: string }
  | { name: 'not-found' };

export function match(path: string): Route {
  const segments = path.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
  if (segments.length === 0) return { name: 'overview' };
  if (segments[0] === 'tables' && segments.length === 2) return { name: 'table', table: segments[1]! };
  if (segments[0] === 'rca' && segments.length === 2) return { name: 'rca', id: segments[1]! };
  if (segments[0] === 'incidents' && segments.length === 1) return { name: 'incidents' };
  if (segments[0] === 'incidents' && segments.length === 2) return { name: 'incident', id: segments[1]! };
  return { name: 'not-found' };
}

export const paths = {
  overview: () => '/',
  table: (table: string) => `/tables/${encodeURIComponent(table)}`,
  rca: (id: string) => `/rca/${encodeURIComponent(id)}`,
  incidents: () => '/incidents',
  incident: (id: string) => `/incidents/${encodeURIComponent(id)}`,
};

/** An ordinary link (so open-in-new-tab works) that navigates in place on a plain click. */
export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}

/** Sets document.title for the current screen. */
export function useTitle(title: string) {
  useEffect(() => { document.title = `${title} · Data Health Workbench`; }, [title]);
}
