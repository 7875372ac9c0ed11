import type { ReactNode } from 'react';
import type { Instance, Service } from '../../../../src/model/index.js';
import { progressText, rolloutProgress } from './rollout-progress.js';

/**
 * The rollout under way (or paused), from status.update and the instances' generations: a progress
 * bar "k of n updated" and, per slot, the old and the new instance. Nothing when no rollout runs.
 */
export function RolloutPanel({ service, instances }: { readonly service: Service; readonly instances: readonly Instance[] }): ReactNode {
  const p = rolloutProgress(service, instances);
  if (!p) return null;
  const text = progressText(p);
  return (
    <section className="card rollout" aria-labelledby="rollout-title">
      <h2 id="rollout-title">
        {p.state.startsWith('rollback') ? 'Rollback' : 'Rollout'} to generation {p.toGeneration}
        {p.fromGeneration !== undefined && <span className="muted"> from {p.fromGeneration}</span>} <span className={`tag state-${p.state}`}>{p.state.replace('_', ' ')}</span>
      </h2>
      <div className="rollout-bar">
        <progress max={p.total} value={p.updated} aria-label={text} />
        <span>{text}</span>
      </div>
      {p.message && <p className="small">{p.message}</p>}
      {p.failedInstances.length > 0 && <p className="small bad">Failed: {p.failedInstances.join(', ')}</p>}
      <ul className="rollout-slots small">
        {p.slots.map((s) => (
          <li key={s.slot}>
            <strong>
              {service.name}-{s.slot}
            </strong>
            : {s.old ? `generation ${s.old.generation} ${s.old.state}` : '—'} → {s.new ? `generation ${s.new.generation} ${s.new.state}${s.new.ready ? ', ready' : ''}` : 'waiting'}
          </li>
        ))}
      </ul>
    </section>
  );
}
