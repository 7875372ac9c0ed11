import type { ReactNode } from 'react';
import type { ContainerForm, EnvRow, Errors, ProbeForm } from './form-model.js';
import { PortsEditor, RadioGroup, SelectField, TextField, fieldId } from './fields.js';

/** Whether the server can run images: `GET /v1/version`'s drivers (undefined while asking). */
export interface DockerSupport {
  readonly available: boolean;
  /** Why not (the server's unavailableDrivers.docker), when it is not. */
  readonly reason?: string;
}

/**
 * One container of the Containers step: image (Docker driver) or command (a plain process), its
 * arguments and working directory, ports, environment and readiness probe. Field keys `c<i>-…`.
 */
export function ContainerFields({
  index,
  container: c,
  onChange,
  onRemove,
  errors,
  docker,
}: {
  readonly index: number;
  readonly container: ContainerForm;
  readonly onChange: (c: ContainerForm) => void;
  readonly onRemove: () => void;
  readonly errors: Errors;
  readonly docker: DockerSupport | undefined;
}): ReactNode {
  const k = `c${index}-`;
  const set = (patch: Partial<ContainerForm>): void => onChange({ ...c, ...patch });
  const setProbe = (patch: Partial<ProbeForm>): void => set({ probe: { ...c.probe, ...patch } });
  const setEnv = (env: EnvRow[]): void => set({ env });
  const dockerNote =
    docker === undefined
      ? 'Asking the server whether it runs images…'
      : docker.available
        ? 'This server runs images with its Docker driver.'
        : `This server cannot run images now (Docker driver: ${docker.reason ?? 'not available'}): choose Command to run a plain process.`;
  return (
    <section className="card container-card" aria-labelledby={`${fieldId(k)}title`}>
      <div className="card-head">
        <h3 id={`${fieldId(k)}title`}>Container {index + 1}</h3>
        <button type="button" className="remove" onClick={onRemove}>
          Remove container
        </button>
      </div>
      <div className="grid2">
        <TextField field={`${k}name`} label="Container name" value={c.name} onChange={(v) => set({ name: v })} error={errors[`${k}name`]} hint="Optional with one container: it takes the service's name." autoComplete="off" />
        <RadioGroup
          field={`${k}runs`}
          legend="Runs"
          value={c.runs}
          options={[
            ['image', 'Image', 'a container (Docker driver)'],
            ['command', 'Command', 'a plain process on the node'],
          ]}
          onChange={(v) => set({ runs: v })}
        />
      </div>
      {c.runs === 'command' && <p className="hint">{dockerNote}</p>}
      {c.runs === 'image' && (
        <TextField
          field={`${k}image`}
          label="Image"
          value={c.image}
          onChange={(v) => set({ image: v })}
          error={errors[`${k}image`]}
          hint={dockerNote}
          placeholder="nginx:1.27"
          autoComplete="off"
          spellCheck={false}
        />
      )}
      {/* The field shows its error instead of its hint: keep the driver note visible. */}
      {c.runs === 'image' && errors[`${k}image`] !== undefined && <p className="hint">{dockerNote}</p>}
      <div className="grid2">
        <TextField
          field={`${k}command`}
          label={c.runs === 'image' ? 'Command (optional: replaces the image’s entry point)' : 'Command'}
          value={c.command}
          onChange={(v) => set({ command: v })}
          error={errors[`${k}command`]}
          placeholder="sleep 1000"
          hint="Split into arguments at spaces; quote an argument that has spaces."
          autoComplete="off"
          spellCheck={false}
        />
        <TextField field={`${k}args`} label="Arguments (optional)" value={c.args} onChange={(v) => set({ args: v })} error={errors[`${k}args`]} autoComplete="off" spellCheck={false} />
      </div>
      {c.runs === 'command' && (
        <TextField
          field={`${k}workingDir`}
          label="Working directory (optional)"
          value={c.workingDir}
          onChange={(v) => set({ workingDir: v })}
          error={errors[`${k}workingDir`]}
          hint="An absolute path on the node; relative program paths are found from here."
          placeholder="/srv/app"
          autoComplete="off"
          spellCheck={false}
        />
      )}
      <h4>Ports</h4>
      <PortsEditor ports={c.ports} onChange={(ports) => set({ ports })} prefix={k} errors={errors} />
      <h4>Environment variables</h4>
      <div className="rows">
        {c.env.map((e, j) => (
          <div className="row" key={j} role="group" aria-label={`Variable ${j + 1}`}>
            <TextField field={`${k}env${j}-name`} label="Name" value={e.name} onChange={(v) => setEnv(c.env.map((x, y) => (y === j ? { ...x, name: v } : x)))} error={errors[`${k}env${j}-name`]} autoComplete="off" spellCheck={false} />
            <TextField field={`${k}env${j}-value`} label="Value" value={e.value} onChange={(v) => setEnv(c.env.map((x, y) => (y === j ? { ...x, value: v } : x)))} autoComplete="off" spellCheck={false} />
            <button type="button" className="remove" onClick={() => setEnv(c.env.filter((_, y) => y !== j))} aria-label={`Remove variable ${j + 1}`}>
              Remove
            </button>
          </div>
        ))}
        <button type="button" onClick={() => setEnv([...c.env, { name: '', value: '' }])}>
          Add variable
        </button>
      </div>
      <h4>Readiness probe</h4>
      <p className="hint">An instance takes traffic (DNS and the virtual IP) only while its probe passes.</p>
      <div className="row">
        <SelectField
          field={`${k}probe-kind`}
          label="Check"
          value={c.probe.kind}
          options={[
            ['none', 'None (ready once started)'],
            ['http', 'HTTP request'],
            ['tcp', 'TCP port'],
            ['exec', 'Command'],
          ]}
          onChange={(v) => setProbe({ kind: v })}
        />
        {c.probe.kind === 'http' && <TextField field={`${k}probe-path`} label="Path" value={c.probe.path} onChange={(v) => setProbe({ path: v })} error={errors[`${k}probe-path`]} size={12} />}
        {(c.probe.kind === 'http' || c.probe.kind === 'tcp') && (
          <TextField field={`${k}probe-port`} label="Port (number or name)" value={c.probe.port} onChange={(v) => setProbe({ port: v })} error={errors[`${k}probe-port`]} size={8} />
        )}
        {c.probe.kind === 'exec' && <TextField field={`${k}probe-command`} label="Command" value={c.probe.command} onChange={(v) => setProbe({ command: v })} error={errors[`${k}probe-command`]} spellCheck={false} />}
        {c.probe.kind !== 'none' && (
          <>
            <TextField field={`${k}probe-delay`} label="Initial delay (s)" value={c.probe.initialDelaySeconds} onChange={(v) => setProbe({ initialDelaySeconds: v })} error={errors[`${k}probe-delay`]} inputMode="numeric" size={5} />
            <TextField field={`${k}probe-period`} label="Period (s)" value={c.probe.periodSeconds} onChange={(v) => setProbe({ periodSeconds: v })} error={errors[`${k}probe-period`]} inputMode="numeric" size={5} />
          </>
        )}
      </div>
    </section>
  );
}
