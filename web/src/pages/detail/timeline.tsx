import type { ReactNode } from 'react';
import type { ServiceEvent, TimelineLine } from '../../../../src/model/index.js';
import { useSession } from '../../session/session.js';
import { LogView } from './log-view.js';

/**
 * The Timeline tab: the service's logs and events together, followed (`GET …/logs?events=true&follow=true`,
 * as `berth service logs --events`). A role without the logs permission (a viewer) gets the events
 * alone (`GET …/events?follow=true`), which `read` allows, and is told why.
 */
export function Timeline({ grid, name }: { readonly grid: string; readonly name: string }): ReactNode {
  const { client, can } = useSession();
  if (can('logs', grid, name)) {
    return <LogView label={`timeline of ${name}`} showInstance open={({ tail, signal, onWarning }) => client.logs(grid, name, { events: true, follow: true, tail, signal, ...(onWarning ? { onWarning } : {}) })} />;
  }
  return (
    <>
      <p className="muted small">Events only: reading logs needs the logs permission (operator or admin of the grid).</p>
      <LogView label={`timeline of ${name}`} showInstance open={({ tail, signal }) => eventLines(client.events(grid, name, { follow: true, tail, signal }))} />
    </>
  );
}

async function* eventLines(events: AsyncIterable<ServiceEvent>): AsyncIterable<TimelineLine> {
  for await (const event of events) yield { kind: 'event', time: event.time, event };
}
