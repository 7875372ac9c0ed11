import type { ReactNode } from 'react';
import { useSearchParams } from 'wouter';
import type { Instance, Service } from '../../../../src/model/index.js';
import { RelativeTime } from '../../components/relative-time.js';
import { useSession } from '../../session/session.js';
import { healthOf, isReadyInstance, shownInstances } from './instance-view.js';
import { LogView } from './log-view.js';
import { formatBytes, formatCpu, sparklinePoints } from './sparkline.js';
import { useStats } from './use-stats.js';
import type { StatsSeries } from './use-stats.js';

const SPARK = { width: 60, height: 18 };

/**
 * The Instances tab: each slot's instance, live (from the page's watch stream), with its CPU and memory
 * sparklines (stats every 5 s while visible). A click on an instance — or Enter on its name — opens its
 * containers and its followed logs below the list; the open instance is in the URL (`?instance=<id>`).
 */
export function InstancesTab({ service, instances }: { readonly service: Service; readonly instances: readonly Instance[] }): ReactNode {
  const [params, setParams] = useSearchParams();
  const stats = useStats(service.grid, service.name, true);
  const openId = params.get('instance') ?? undefined;
  const rows = shownInstances(instances);
  const open = instances.find((i) => i.id === openId);
  const toggle = (id: string): void =>
    setParams(
      (p) => {
        if (p.get('instance') === id) p.delete('instance');
        else p.set('instance', id);
        return p;
      },
      { replace: false },
    );
  return (
    <>
      {rows.length === 0 && <p className="muted">No instances.</p>}
      {rows.length > 0 && (
        <div className="table-scroll">
          <table className="list instances" aria-label={`Instances of ${service.name}`}>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">State</th>
                <th scope="col">Health</th>
                <th scope="col">Node</th>
                <th scope="col">Address</th>
                <th scope="col">Restarts</th>
                <th scope="col">Started</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((i) => (
                <InstanceRow key={i.id} instance={i} open={i.id === openId} stats={stats.get(i.id)} onToggle={() => toggle(i.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {openId && !open && <p className="muted">Instance {openId} is gone.</p>}
      {open && <InstanceDetail key={open.id} service={service} instance={open} />}
    </>
  );
}

function InstanceRow({ instance: i, open, stats, onToggle }: { readonly instance: Instance; readonly open: boolean; readonly stats: StatsSeries | undefined; readonly onToggle: () => void }): ReactNode {
  const ready = isReadyInstance(i);
  const health = healthOf(i);
  const failing = i.status.health?.probes.find((p) => p.result === 'failure');
  return (
    <tr data-instance={i.id} data-slot={i.slot} data-ready={ready} className={open ? 'open' : undefined} onClick={onToggle}>
      <td data-label="Instance">
        <button type="button" className="link" aria-expanded={open} aria-controls="instance-detail" onClick={(e) => (e.stopPropagation(), onToggle())} title={i.id}>
          {i.service}-{i.slot}
        </button>
        <div className="muted small">generation {i.generation}</div>
      </td>
      <td data-label="State">
        <span className={`state state-${i.status.state}`}>{i.status.state}</span>
        {i.desiredState === 'shutdown' && <div className="muted small">stopping{i.desiredReason ? `: ${i.desiredReason}` : ''}</div>}
      </td>
      <td data-label="Health">
        <span className={ready ? 'ok' : 'bad'}>{ready ? 'ready' : 'not ready'}</span>
        {health && <div className="muted small">{health}</div>}
        {failing && (
          <div className="small bad" title={failing.target}>
            {failing.kind}: {failing.lastOutput}
          </div>
        )}
      </td>
      <td data-label="Node">{i.node}</td>
      <td data-label="Address" className="mono">
        {i.spec.address}
      </td>
      <td data-label="Restarts">{i.restarts}</td>
      <td data-label="Started">{i.status.startedAt ? <RelativeTime iso={i.status.startedAt} /> : '—'}</td>
      <td data-label="CPU">
        <Spark values={stats?.cpu} floor={5} text={stats?.cpu.length ? formatCpu(stats.cpu[stats.cpu.length - 1] ?? 0) : '—'} what="CPU" />
      </td>
      <td data-label="Memory">
        <Spark values={stats?.memory} floor={16 * 1024 * 1024} text={stats?.memory.length ? formatBytes(stats.memory[stats.memory.length - 1] ?? 0) : '—'} what="memory" />
      </td>
    </tr>
  );
}

/** A value and its recent history as an inline SVG line (decorative: the value is the text). */
function Spark({ values, floor, text, what }: { readonly values: readonly number[] | undefined; readonly floor: number; readonly text: string; readonly what: string }): ReactNode {
  return (
    <span className="spark" title={`${what}, last ${values?.length ?? 0} samples`}>
      <svg width={SPARK.width} height={SPARK.height} viewBox={`0 0 ${SPARK.width} ${SPARK.height}`} aria-hidden="true">
        <polyline points={sparklinePoints(values ?? [], SPARK, { floor })} fill="none" stroke="currentColor" strokeWidth="1.5" />
      </svg>
      <span className="spark-value">{text}</span>
    </span>
  );
}

/** The open instance: its containers and its logs, followed live while open. */
function InstanceDetail({ service, instance: i }: { readonly service: Service; readonly instance: Instance }): ReactNode {
  const { client, can } = useSession();
  return (
    <section id="instance-detail" className="card instance-detail" aria-label={`Instance ${i.service}-${i.slot}`}>
      <h2>
        {i.service}-{i.slot} <span className="muted small mono">{i.id}</span>
      </h2>
      <p className="small">
        {i.status.message}
        {i.status.exitCode !== undefined && ` (exit code ${i.status.exitCode})`}
      </p>
      <div className="table-scroll">
        <table className="list" aria-label="Containers">
          <thead>
            <tr>
              <th scope="col">Container</th>
              <th scope="col">State</th>
              <th scope="col">PID</th>
              <th scope="col">Started</th>
              <th scope="col">Exit</th>
            </tr>
          </thead>
          <tbody>
            {(i.status.containers ?? []).map((c) => (
              <tr key={c.name}>
                <td>{c.name}</td>
                <td>{c.state}</td>
                <td>{c.pid ?? '—'}</td>
                <td>{c.startedAt ? <RelativeTime iso={c.startedAt} /> : '—'}</td>
                <td>{c.exitCode ?? c.signal ?? '—'}</td>
              </tr>
            ))}
            {(i.status.containers ?? []).length === 0 && (
              <tr>
                <td colSpan={5} className="muted">
                  No container has started yet.
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {(i.status.health?.probes ?? []).length > 0 && (
        <ul className="probes small">
          {(i.status.health?.probes ?? []).map((p) => (
            <li key={`${p.kind}-${p.container}`}>
              <strong>{p.kind}</strong> {p.target}: <span className={p.result === 'failure' ? 'bad' : p.result === 'success' ? 'ok' : 'muted'}>{p.result}</span>
              {p.lastOutput && <span className="muted"> — {p.lastOutput}</span>}
            </li>
          ))}
        </ul>
      )}
      <h3>Logs</h3>
      {can('logs', service.grid, service.name) ? (
        <LogView label={`logs of ${i.service}-${i.slot}`} showInstance={false} open={({ tail, signal, onWarning }) => client.logs(service.grid, service.name, { follow: true, instance: i.id, tail, signal, ...(onWarning ? { onWarning } : {}) })} />
      ) : (
        <p className="muted">Reading logs needs the logs permission (operator or admin of the grid); your role can see the instances and events.</p>
      )}
    </section>
  );
}
