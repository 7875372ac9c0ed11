import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { Link } from 'wouter';
import type { Grid } from '../../../src/model/index.js';
import { ErrorNote } from '../components/layout.js';
import { RelativeTime } from '../components/relative-time.js';
import { servicesUrl } from '../urls.js';
import { useSession } from '../session/session.js';

/** The grids the signed-in identity may see (KubeSphere's projects), each linking to its services. */
export function GridsPage(): ReactNode {
  const { client } = useSession();
  const [grids, setGrids] = useState<Grid[] | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    client.listGrids().then(setGrids, (e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [client]);
  return (
    <section className="pad">
      <h1>Grids</h1>
      <ErrorNote error={error} />
      {grids === undefined && !error && <p className="muted">Loading…</p>}
      {grids?.length === 0 && <p className="muted">No grid is visible to this token.</p>}
      {grids && grids.length > 0 && (
        <table className="list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Labels</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {grids.map((g) => (
              <tr key={g.name}>
                <td>
                  <Link href={servicesUrl(g.name)}>{g.name}</Link>
                </td>
                <td>
                  {Object.entries(g.labels).map(([k, v]) => (
                    <span key={k} className="tag">
                      {k}={v}
                    </span>
                  ))}
                </td>
                <td>
                  <RelativeTime iso={g.createdAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
