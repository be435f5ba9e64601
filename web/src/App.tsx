import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, tokenStore, type Identity } from './api.ts';
import { Link, match, paths, useLocation } from './router.tsx';
import { SessionContext, type Session } from './session.ts';
import { SignIn } from './screens/SignIn.tsx';
import { Overview } from './screens/Overview.tsx';
import { TableScreen } from './screens/TableScreen.tsx';
import { RcaScreen } from './screens/RcaScreen.tsx';
import { IncidentsScreen, IncidentScreen } from './screens/Incidents.tsx';

type Auth =
  | { state: 'checking'; token: string }
  | { state: 'signed-out'; message?: string }
  | { state: 'signed-in'; token: string; identity: Identity };

export function App() {
  const [auth, setAuth] = useState<Auth>(() => {
    const token = tokenStore.get();
    return token ? { state: 'checking', token } : { state: 'signed-out' };
  });

  const signOut = useCallback((message?: string) => {
    tokenStore.clear();
    setAuth({ state: 'signed-out', message });
  }, []);

  // A token kept from earlier in this tab: ask who it belongs to before showing anything.
  useEffect(() => {
    if (auth.state !== 'checking') return;
    const controller = new AbortController();
    api<Identity>(auth.token, 'GET', '/v1/whoami', controller.signal)
      .then((identity) => setAuth({ state: 'signed-in', token: auth.token, identity }))
      .catch((error: unknown) => {
        if ((error as Error).name === 'AbortError') return;
        tokenStore.clear();
        setAuth({ state: 'signed-out', message: error instanceof ApiError ? error.message : String(error) });
      });
    return () => controller.abort();
  }, [auth]);

  const signedIn = useCallback((token: string, identity: Identity) => {
    tokenStore.set(token);
    setAuth({ state: 'signed-in', token, identity });
  }, []);

  return (
    <>
      <a className="skip-link" href="#main">Skip to content</a>
      <Header identity={auth.state === 'signed-in' ? auth.identity : null} onSignOut={() => signOut()} />
      <main id="main" tabIndex={-1}>
        {auth.state === 'checking' && <p className="muted" role="status">Checking your token…</p>}
        {auth.state === 'signed-out' && <SignIn message={auth.message} onSignedIn={signedIn} />}
        {auth.state === 'signed-in' && (
          <SessionContext.Provider value={{ token: auth.token, identity: auth.identity, signOut } satisfies Session}>
            <Screens />
          </SessionContext.Provider>
        )}
      </main>
    </>
  );
}

function Header({ identity, onSignOut }: { identity: Identity | null; onSignOut: () => void }) {
  const { path } = useLocation();
  const route = match(path);
  const current = (name: string) => (route.name === name || (name === 'incidents' && route.name === 'incident') ? 'page' : undefined);
  return (
    <header className="topbar">
      <div className="brand"><span aria-hidden="true" className="brand-mark">+</span> Data Health Workbench</div>
      {identity && (
        <nav aria-label="Main">
          <ul>
            <li><Link to={paths.overview()} aria-current={current('overview')}>Overview</Link></li>
            <li><Link to={paths.incidents()} aria-current={current('incidents')}>Incidents</Link></li>
          </ul>
        </nav>
      )}
      {identity && (
        <div className="who">
          <span>Signed in as <strong>{identity.name}</strong> <span className={`role role-${identity.role}`} data-testid="role">{identity.role}</span></span>
          <button type="button" className="button-quiet" onClick={onSignOut}>Sign out</button>
        </div>
      )}
    </header>
  );
}

function Screens() {
  const { path } = useLocation();
  const route = match(path);
  const first = useRef(true);
  // After a client-side navigation, move focus to the new screen's heading (keyboard and screen-reader users).
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    const heading = document.querySelector<HTMLElement>('#main h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus({ preventScroll: true });
    }
  }, [path]);
  switch (route.name) {
    case 'overview': return <Overview />;
    case 'table': return <TableScreen key={route.table} table={route.table} />;
    case 'rca': return <RcaScreen key={route.id} id={route.id} />;
    case 'incidents': return <IncidentsScreen />;
    case 'incident': return <IncidentScreen key={route.id} id={route.id} />;
    default: return (
      <div className="page">
        <h1>Not found</h1>
        <p>There is no screen at <code>{path}</code>. <Link to={paths.overview()}>Back to the overview</Link>.</p>
      </div>
    );
  }
}
