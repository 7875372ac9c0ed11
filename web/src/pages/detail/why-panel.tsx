import type { ReactNode } from 'react';
import type { ExplanationReason, ServiceExplanation } from '../../../../src/model/index.js';

/** The verdicts that need no attention: the panel then shrinks to one line. */
const CALM = new Set(['healthy', 'not_deployed', 'stopped', 'removing']);

/**
 * `berth service why` on the page (GET …/why, read again when the service or its instances change):
 * prominent — first on the page, with its verdict, summary, reasons and their evidence, suggestions —
 * whenever the service is not healthy; one quiet line when it is.
 */
export function WhyPanel({ explanation, error }: { readonly explanation: ServiceExplanation | undefined; readonly error: string | undefined }): ReactNode {
  if (!explanation) return error ? <p className="error">Why: {error}</p> : null;
  const calm = CALM.has(explanation.verdict);
  if (calm && explanation.reasons.length === 0) {
    return (
      <p className="why-calm" data-verdict={explanation.verdict}>
        <span className={`verdict verdict-${explanation.verdict}`}>{explanation.verdict.replace('_', ' ')}</span> {explanation.summary}
      </p>
    );
  }
  return (
    <section className={`card why ${calm ? '' : 'why-alert'}`} aria-labelledby="why-title" data-verdict={explanation.verdict}>
      <h2 id="why-title">
        Why: <span className={`verdict verdict-${explanation.verdict}`}>{explanation.verdict.replace('_', ' ')}</span>
      </h2>
      <p className="why-summary">{explanation.summary}</p>
      {explanation.reasons.length > 0 && (
        <ol className="why-reasons">
          {explanation.reasons.map((r, i) => (
            <Reason key={i} reason={r} />
          ))}
        </ol>
      )}
      {explanation.suggestions.length > 0 && (
        <>
          <h3>What may help</h3>
          <ul className="why-suggestions">
            {explanation.suggestions.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </>
      )}
      {error && <p className="error small">Could not refresh: {error}</p>}
    </section>
  );
}

function Reason({ reason: r }: { readonly reason: ExplanationReason }): ReactNode {
  const e = r.evidence;
  const lines: string[] = [];
  if (e.state) lines.push(`state: ${e.state}`);
  if (e.message && e.message !== r.message) lines.push(`status: ${e.message}`);
  if (e.probe) lines.push(`${e.probe.kind} probe ${e.probe.target} failed ${e.probe.consecutiveFailures}× — ${e.probe.lastOutput}`);
  if (e.exitCode !== undefined) lines.push(`exit code ${e.exitCode}`);
  if (e.signal) lines.push(`signal ${e.signal}`);
  if (e.restarts !== undefined) lines.push(`restarts: ${e.restarts}`);
  if (e.connections !== undefined) lines.push(`open connections: ${e.connections}`);
  if (e.event) lines.push(`event ${e.event.type} (${e.event.severity}): ${e.event.message}`);
  if (e.listener) lines.push(`listener ${e.listener.listener}: ${e.listener.error} ${e.listener.message}`);
  return (
    <li className={`why-reason reason-${r.kind}`}>
      <div>
        <span className="tag">{r.kind.replace('_', ' ')}</span> {r.message}
      </div>
      {lines.length > 0 && (
        <ul className="evidence small">
          {lines.map((l, i) => (
            <li key={i}>{l}</li>
          ))}
        </ul>
      )}
      {e.lastLogLines && e.lastLogLines.length > 0 && (
        <pre className="evidence-log" aria-label="Last log lines">
          {e.lastLogLines.join('\n')}
        </pre>
      )}
    </li>
  );
}
