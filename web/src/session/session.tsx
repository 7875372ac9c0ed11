import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { BerthClient, isApiError } from '../../../src/client/index.js';
import type { Identity, Permission } from '../../../src/model/index.js';
// The role table itself, written once in model/ (pure, no I/O): the console shows a button only where
// the API would allow its request (the API still checks every request).
import { authorize } from '../../../src/model/access.js';

/**
 * The signed-in session (docs/console.md, "Login"): a berth token (`berth token create`, or the admin
 * credential printed at first start) kept in this browser's localStorage under `berth.token`, the
 * typed client that sends it, and who it is (`GET /v1/whoami`). Logging out forgets the token.
 */
export interface Session {
  readonly client: BerthClient;
  readonly identity: Identity;
  /** True when the identity may use `permission` in `grid` (for one service: `service`). */
  can(permission: Permission, grid?: string, service?: string): boolean;
  logout(): void;
}

const TOKEN_KEY = 'berth.token';
const SessionContext = createContext<Session | null>(null);

export function storedToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** A client of the server that served this page, sending `token`. */
export function clientFor(token: string): BerthClient {
  return new BerthClient({ baseUrl: window.location.origin, token, fetch: (input, init) => window.fetch(input, init) });
}

/**
 * Checks a token with the server and keeps it.
 * @throws BerthApiError UNAUTHENTICATED for a token the server does not know (revoked, expired, mistyped)
 */
export async function signIn(token: string): Promise<Identity> {
  const identity = await clientFor(token.trim()).whoami();
  window.localStorage.setItem(TOKEN_KEY, token.trim());
  return identity;
}

type SessionState = { readonly kind: 'checking' } | { readonly kind: 'signed-out'; readonly reason?: string } | { readonly kind: 'signed-in'; readonly session: Session };

/** Provides the session to the pages; `children` get it only when signed in, else `signedOut` renders. */
export function SessionProvider({ children, signedOut }: { readonly children: ReactNode; readonly signedOut: (retry: () => void, reason?: string) => ReactNode }): ReactNode {
  const [state, setState] = useState<SessionState>({ kind: 'checking' });
  const logout = useCallback(() => {
    window.localStorage.removeItem(TOKEN_KEY);
    setState({ kind: 'signed-out' });
  }, []);
  const check = useCallback(() => {
    const token = storedToken();
    if (!token) {
      setState({ kind: 'signed-out' });
      return;
    }
    const client = clientFor(token);
    client.whoami().then(
      (identity) =>
        setState({
          kind: 'signed-in',
          session: { client, identity, logout, can: (permission, grid, service) => authorize(identity, permission, { ...(grid ? { grid } : {}), ...(service ? { service } : {}) }).allowed },
        }),
      (error: unknown) => {
        if (isApiError(error) && error.code === 'UNAUTHENTICATED') window.localStorage.removeItem(TOKEN_KEY);
        setState({ kind: 'signed-out', reason: error instanceof Error ? error.message : String(error) });
      },
    );
  }, [logout]);
  useEffect(check, [check]);
  const value = state.kind === 'signed-in' ? state.session : null;
  const shown = useMemo(() => (state.kind === 'signed-out' ? signedOut(check, state.reason) : null), [state, signedOut, check]);
  if (state.kind === 'checking') return <p className="muted pad">Connecting to berth…</p>;
  if (!value) return shown;
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

/** The session; only inside SessionProvider's signed-in children. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in SessionProvider');
  return session;
}
