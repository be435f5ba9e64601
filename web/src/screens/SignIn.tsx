import { useState, type FormEvent } from 'react';
import { api, ApiError, type Identity } from '../api.ts';
import { useTitle } from '../router.tsx';

/** Sign-in with an API token; it is kept in this tab's sessionStorage only. */
export function SignIn({ message, onSignedIn }: { message?: string; onSignedIn: (token: string, identity: Identity) => void }) {
  useTitle('Sign in');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const value = token.trim();
    if (!value) { setError('Enter a token.'); return; }
    setBusy(true);
    setError(null);
    try {
      const identity = await api<Identity>(value, 'GET', '/v1/whoami');
      onSignedIn(value, identity);
    } catch (caught) {
      const apiError = caught instanceof ApiError ? caught : null;
      if (apiError?.status === 401) setError('This token is not known to Medic (or it was revoked).');
      else if (apiError?.status === 403) setError(`This token cannot read table health: ${apiError.message}. Use a reader, operator or admin token.`);
      else setError(apiError?.message ?? String(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page signin">
      <h1>Sign in</h1>
      <p>
        Use a Pipeline Medic API token. A <strong>reader</strong> sees table health and diagnoses, an <strong>operator</strong> can
        also retry, acknowledge, resolve and escalate, an <strong>admin</strong> also sees the evidence trail.
      </p>
      {message && <div className="banner banner-info" role="status">{message}</div>}
      <form onSubmit={submit} className="card signin-form" noValidate>
        <label htmlFor="token">API token</label>
        <input
          id="token" name="token" type="password" autoComplete="off" spellCheck={false} required
          value={token} onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined} aria-describedby={error ? 'token-error token-help' : 'token-help'}
        />
        <p id="token-help" className="hint">Kept in this browser tab only (sessionStorage); closing the tab signs you out. Create one with <code>medic token create --role reader --name you</code>.</p>
        {error && <p id="token-error" className="field-error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
    </div>
  );
}
