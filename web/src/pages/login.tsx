import { useState } from 'react';
import type { FormEvent, ReactNode } from 'react';
import { signIn } from '../session/session.js';

/**
 * Sign in with a berth token: the admin credential `berth server` prints at its first start
 * (`<data-dir>/admin.token`), or one made by `berth token create --role viewer|operator|admin`.
 */
export function LoginPage({ onSignedIn, reason }: { readonly onSignedIn: () => void; readonly reason?: string | undefined }): ReactNode {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    setBusy(true);
    signIn(token).then(
      () => onSignedIn(),
      (err: unknown) => {
        setBusy(false);
        setError(err instanceof Error ? err.message : String(err));
      },
    );
  };
  return (
    <main className="login">
      <form onSubmit={submit} aria-labelledby="login-title" className="card">
        <h1 id="login-title">Sign in to berth</h1>
        <p className="muted">
          Paste a token: the one in <code>&lt;data-dir&gt;/admin.token</code>, or one made with <code>berth token create</code>.
        </p>
        <label htmlFor="token">Token</label>
        <input id="token" name="token" type="password" autoComplete="current-password" required value={token} onChange={(e) => setToken(e.target.value)} autoFocus />
        {(error ?? reason) && (
          <p role="alert" className="error">
            {error ?? reason}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
