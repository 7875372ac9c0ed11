import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { TimelineLine } from '../../../../src/model/index.js';
import { LogView } from './log-view.js';
import type { OpenLogStream } from './log-view.js';

afterEach(cleanup);

const line = (text: string, stream: 'stdout' | 'stderr' = 'stdout'): TimelineLine => ({ time: '2026-12-01T10:00:00.000000000Z', stream, text, instance: 'web-1-a', slot: 1, container: 'web' });

/** A stream the test feeds by hand; records the options it was opened with and whether it was aborted. */
function fakeStream() {
  const opened: { tail: number; signal: AbortSignal }[] = [];
  let push: ((l: TimelineLine) => void) | undefined;
  const open: OpenLogStream = ({ tail, signal }) => {
    opened.push({ tail, signal });
    const queue: TimelineLine[] = [];
    let wake: (() => void) | undefined;
    push = (l) => {
      queue.push(l);
      wake?.();
    };
    return (async function* () {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) yield next;
        else await new Promise<void>((r) => ((wake = r), signal.addEventListener('abort', () => r(), { once: true })));
      }
    })();
  };
  return { open, opened, push: (l: TimelineLine) => push?.(l) };
}

async function frames(): Promise<void> {
  await act(async () => {
    await new Promise((r) => setTimeout(r, 50));
  });
}

describe('LogView', () => {
  it('shows followed lines, marks stderr, and closes its stream when it goes', async () => {
    const s = fakeStream();
    const view = render(<LogView open={s.open} label="logs of web-1" showInstance={false} />);
    expect(s.opened).toHaveLength(1);
    expect(s.opened[0]?.tail).toBe(100);
    s.push(line('web-1 listening'));
    s.push(line('boom', 'stderr'));
    await frames();
    expect(screen.getByRole('log').textContent).toContain('web-1 listening');
    const err = screen.getByText('boom').closest('.log-line');
    expect(err?.getAttribute('data-stream')).toBe('stderr');
    expect(err?.textContent).toContain('stderr');
    view.unmount();
    expect(s.opened[0]?.signal.aborted).toBe(true);
  });

  it("shows the stream's warnings (a node whose lines are missing) above the lines, once each", async () => {
    const warned: string[] = [];
    const open: OpenLogStream = ({ signal, onWarning }) =>
      (async function* () {
        onWarning?.({ message: 'node vm-b did not answer (connect ECONNREFUSED 10.0.0.3:10250): the logs of its instance are not shown' });
        onWarning?.({ message: 'node vm-b did not answer (connect ECONNREFUSED 10.0.0.3:10250): the logs of its instance are not shown' });
        warned.push('sent');
        yield line('from vm-a');
        await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
      })();
    render(<LogView open={open} label="logs of web" showInstance />);
    await frames();
    expect(warned).toHaveLength(1);
    const alerts = screen.getAllByRole('alert');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.textContent).toContain('node vm-b did not answer');
    expect(screen.getByRole('log').textContent).toContain('from vm-a');
  });

  it('filters and highlights by the search, and reopens with another tail', async () => {
    const s = fakeStream();
    render(<LogView open={s.open} label="logs of web-1" showInstance={false} />);
    s.push(line('GET /health 200'));
    s.push(line('web-1 listening'));
    await frames();
    fireEvent.change(screen.getByLabelText('Search logs of web-1'), { target: { value: 'LISTEN' } });
    expect(screen.getByRole('log').textContent).not.toContain('/health');
    expect(screen.getByRole('log').querySelector('mark')?.textContent).toBe('listen');
    fireEvent.click(screen.getByLabelText('Only matching'));
    expect(screen.getByRole('log').textContent).toContain('/health');
    fireEvent.change(screen.getByLabelText('Lines to show from the end'), { target: { value: '500' } });
    expect(s.opened).toHaveLength(2);
    expect(s.opened[0]?.signal.aborted).toBe(true);
    expect(s.opened[1]?.tail).toBe(500);
  });
});
