import type { ReactNode } from 'react';
import { Link } from 'wouter';
import { useSession } from '../session/session.js';

/** What a grant list reads as: `cluster-admin`, `operator in shop`. */
export function describeRoles(grants: readonly { readonly role: string; readonly grid?: string }[]): string {
  if (grants.length === 0) return 'no role';
  return grants.map((g) => (g.grid ? `${g.role} in ${g.grid}` : g.role)).join(', ');
}

/** The frame of every signed-in page: the header (home, who is signed in, sign out) and the page. */
export function Layout({ children }: { readonly children: ReactNode }): ReactNode {
  const { identity, logout } = useSession();
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/grids" className="brand" aria-label="berth: grids">
          berth
        </Link>
        <nav aria-label="Main">
          <Link href="/grids">Grids</Link>
        </nav>
        <span className="who" title={identity.subject}>
          {describeRoles(identity.grants)}
        </span>
        <button type="button" onClick={logout}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

/** A failed request, said in the API's words. */
export function ErrorNote({ error }: { readonly error: string | undefined }): ReactNode {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {error}
    </p>
  );
}
