import type { ReactNode } from 'react';
import { Link } from 'wouter';

export function NotFoundPage(): ReactNode {
  return (
    <section className="pad">
      <h1>Page not found</h1>
      <p>
        Nothing is at this address. <Link href="/grids">Go to the grids</Link>.
      </p>
    </section>
  );
}
