import type { ReactNode } from 'react';
import { Redirect, Route, Switch } from 'wouter';
import { Layout } from './components/layout.js';
import { GridsPage } from './pages/grids.js';
import { LoginPage } from './pages/login.js';
import { NotFoundPage } from './pages/not-found.js';
import { ServicesPage } from './pages/services-list.js';
import { CONSOLE_ROUTES } from './routes.js';
import { SessionProvider } from './session/session.js';

/**
 * The console's pages (docs/console.md), each at its own URL so deep links and the back button work
 * (wouter over the History API; the server answers every non-/v1 path with index.html). Signed out,
 * every URL shows the login form and returns to itself after signing in.
 */
export function App(): ReactNode {
  return (
    <SessionProvider signedOut={(retry, reason) => <LoginPage onSignedIn={retry} reason={reason} />}>
      <Layout>
        <Switch>
          <Route path="/">
            <Redirect to="/grids" replace />
          </Route>
          <Route path="/grids" component={GridsPage} />
          <Route path="/grids/:grid/services" component={ServicesPage} />
          {CONSOLE_ROUTES.map((r) => (
            <Route key={String(r.path)} path={r.path} component={r.component} />
          ))}
          <Route component={NotFoundPage} />
        </Switch>
      </Layout>
    </SessionProvider>
  );
}
