import { useEffect, useId, useState } from 'react';
import type { ReactNode } from 'react';
import type { Service } from '../../../../src/model/index.js';
import { useSession } from '../../session/session.js';
import { SERVICE_ACTIONS } from './actions.js';
import { ConfirmButton } from './confirm-button.js';
import { describeWriteError } from './write-error.js';

/**
 * The header's actions: Scale, Restart, Stop/Start and Deploy — each sends the `version` of the live
 * service, so a stale write is refused (409) and said, never retried blindly — then the actions other
 * parts of the console registered (actions.ts). A viewer (no `operate`) sees none of the page's own.
 */
export function ServiceActions({ service }: { readonly service: Service }): ReactNode {
  const { client, can } = useSession();
  const canOperate = can('operate', service.grid, service.name);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  const [replicas, setReplicas] = useState(String(service.spec.replicas));
  const ids = useId();
  // Follow the live value until the user starts typing another.
  const [edited, setEdited] = useState(false);
  useEffect(() => {
    if (!edited) setReplicas(String(service.spec.replicas));
  }, [service.spec.replicas, edited]);

  // A success note says what was asked, then goes: the live service shows what happens next.
  useEffect(() => {
    if (!done) return;
    const timer = setTimeout(() => setDone(undefined), 5000);
    return () => clearTimeout(timer);
  }, [done]);

  const act = (what: string, write: () => Promise<unknown>, success: string): void => {
    setBusy(what);
    setError(undefined);
    setDone(undefined);
    write().then(
      () => {
        setBusy(undefined);
        setDone(success);
        setEdited(false);
      },
      (e: unknown) => {
        setBusy(undefined);
        setError(describeWriteError(e));
      },
    );
  };
  const version = { version: service.version };
  const { grid, name } = service;
  const count = Number(replicas);
  const scalable = service.spec.mode !== 'global' && service.spec.containers.length > 0;
  const stopped = service.desired === 'stopped';
  const pendingDeploy = service.deployment?.generation !== service.generation;
  return (
    <div className="actions" aria-label="Actions" role="group">
      {canOperate && (
        <>
          {scalable && (
            <form
              className="scale"
              onSubmit={(e) => {
                e.preventDefault();
                act('scale', () => client.scale(grid, name, count, version), `Scaled to ${count}.`);
              }}
            >
              <label htmlFor={`${ids}-replicas`}>Replicas</label>
              <input
                id={`${ids}-replicas`}
                type="number"
                min={0}
                step={1}
                inputMode="numeric"
                value={replicas}
                onChange={(e) => {
                  setEdited(true);
                  setReplicas(e.target.value);
                }}
              />
              <button type="submit" disabled={busy !== undefined || !Number.isInteger(count) || count < 0 || String(count) === String(service.spec.replicas)}>
                Scale
              </button>
            </form>
          )}
          <button type="button" className={pendingDeploy ? 'primary' : undefined} disabled={busy !== undefined} onClick={() => act('deploy', () => client.deploy(grid, name, version), 'Deploy requested.')} title={pendingDeploy ? `Generation ${service.generation} is not deployed yet` : 'Deploy the current spec again'}>
            Deploy
          </button>
          <ConfirmButton label="Restart" question={`Replace every instance of ${name}?`} disabled={busy !== undefined || stopped} onConfirm={() => act('restart', () => client.restart(grid, name, version), 'Restart requested.')} />
          {stopped ? (
            <button type="button" disabled={busy !== undefined} onClick={() => act('start', () => client.start(grid, name, version), 'Start requested.')}>
              Start
            </button>
          ) : (
            <ConfirmButton label="Stop" danger question={`Stop every instance of ${name}?`} disabled={busy !== undefined} onConfirm={() => act('stop', () => client.stop(grid, name, version), 'Stop requested.')} />
          )}
        </>
      )}
      {SERVICE_ACTIONS.map(({ id, component: Action }) => (
        <Action key={id} service={service} canOperate={canOperate} />
      ))}
      <div className="action-result" aria-live="polite">
        {busy && <span className="muted small">{busy}…</span>}
        {done && !busy && <span className="muted small">{done}</span>}
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}
