import { useState } from 'react';
import type { ReactNode } from 'react';
import type { Service, SpecHistory } from '../../../../src/model/index.js';
import { ErrorNote } from '../../components/layout.js';
import { RelativeTime } from '../../components/relative-time.js';
import { useSession } from '../../session/session.js';
import { ConfirmButton } from './confirm-button.js';
import { specDiff } from './spec-diff.js';
import { useRefreshed } from './use-refreshed.js';
import { describeWriteError } from './write-error.js';

/**
 * The History tab: the spec's versions (GET …/history, read again when the service's generation or
 * deployment changes), newest first, each with what changed from the one before it, and Rollback to
 * any version but the deployed one (POST …/rollback `{ to, version }`, after a confirmation).
 */
export function HistoryTab({ service }: { readonly service: Service }): ReactNode {
  const { client, can } = useSession();
  const canOperate = can('operate', service.grid, service.name);
  const key = `${service.generation}/${service.deployment?.generation ?? 0}/${service.deployment?.requestedAt ?? ''}`;
  const { value: history, error } = useRefreshed<SpecHistory>(() => client.history(service.grid, service.name), key);
  const [busy, setBusy] = useState(false);
  const [writeError, setWriteError] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  if (!history) return error ? <ErrorNote error={error} /> : <p className="muted">Loading…</p>;
  const items = history.items;
  const rollback = (to: number): void => {
    setBusy(true);
    setWriteError(undefined);
    setDone(undefined);
    client.rollback(service.grid, service.name, { to, version: service.version }).then(
      (s) => {
        setBusy(false);
        setDone(`Rolling back to generation ${to} (as generation ${s.generation}).`);
      },
      (e: unknown) => {
        setBusy(false);
        setWriteError(describeWriteError(e));
      },
    );
  };
  return (
    <section aria-label="History">
      <ErrorNote error={error} />
      <div aria-live="polite">
        {done && <p className="muted">{done}</p>}
        {writeError && (
          <p role="alert" className="error">
            {writeError}
          </p>
        )}
      </div>
      <ol className="history" reversed>
        {[...items].reverse().map((rev) => {
          const index = items.indexOf(rev);
          const changes = specDiff(index > 0 ? items[index - 1]?.spec : undefined, rev.spec);
          const deployed = rev.generation === history.deployedGeneration;
          return (
            <li key={rev.generation} className="card revision" data-generation={rev.generation}>
              <div className="revision-head">
                <strong>Generation {rev.generation}</strong>
                {deployed && <span className="tag ok">deployed</span>}
                {rev.generation === history.generation && !deployed && <span className="tag">current spec</span>}
                <span className="muted small">
                  {rev.cause} · <RelativeTime iso={rev.createdAt} />
                  {rev.deployedAt && (
                    <>
                      {' '}
                      · deployed <RelativeTime iso={rev.deployedAt} />
                    </>
                  )}
                </span>
                {canOperate && !deployed && history.deployedGeneration !== null && (
                  <ConfirmButton label="Roll back" question={`Deploy generation ${rev.generation}'s spec again?`} disabled={busy} onConfirm={() => rollback(rev.generation)} />
                )}
              </div>
              {index === 0 ? (
                <p className="muted small">First version.</p>
              ) : changes.length === 0 ? (
                <p className="muted small">No change to the spec.</p>
              ) : (
                <ul className="changes mono small" aria-label={`Changes in generation ${rev.generation}`}>
                  {changes.map((c) => (
                    <li key={c.path} className={`change-${c.kind}`}>
                      <span className="change-path">{c.path}</span>{' '}
                      {c.kind === 'added' ? (
                        <ins>{c.after}</ins>
                      ) : c.kind === 'removed' ? (
                        <del>{c.before}</del>
                      ) : (
                        <>
                          <del>{c.before}</del> → <ins>{c.after}</ins>
                        </>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ol>
    </section>
  );
}
