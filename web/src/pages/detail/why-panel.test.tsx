import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceExplanation } from '../../../../src/model/index.js';
import { WhyPanel } from './why-panel.js';

afterEach(cleanup);

const explanation = (o: Partial<ServiceExplanation>): ServiceExplanation => ({ verdict: 'healthy', summary: '3/3 instances of web ready', reasons: [], suggestions: [], deployedGeneration: 2, instances: [], ...o });

describe('WhyPanel', () => {
  it('is one quiet line when the service is healthy', () => {
    const { container } = render(<WhyPanel explanation={explanation({})} error={undefined} />);
    expect(container.querySelector('.why-calm')?.textContent).toBe('healthy 3/3 instances of web ready');
    expect(screen.queryByRole('heading')).toBeNull();
  });

  it('shows the verdict, each reason with its evidence and last log lines, and the suggestions when not healthy', () => {
    const e = explanation({
      verdict: 'paused',
      summary: 'update to generation 3 paused: web-1 (new) failed its readiness probe',
      reasons: [
        {
          kind: 'probe_failing',
          message: 'web-1 (new) failed its readiness probe GET http://127.0.0.1:8080/health 2 times: HTTP 503: warming up',
          instance: 'web-1-a',
          slot: 1,
          evidence: {
            state: 'running',
            probe: { kind: 'readiness', container: 'web', target: 'GET http://127.0.0.1:8080/health', lastOutput: 'HTTP 503: warming up', consecutiveFailures: 2 },
            restarts: 0,
            lastLogLines: ['web-1-a listening'],
          },
        },
      ],
      suggestions: ['`berth service rollback web` goes back to generation 2'],
    });
    const { container } = render(<WhyPanel explanation={e} error={undefined} />);
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Why: paused');
    expect(container.querySelector('.why-alert')).not.toBeNull();
    const text = container.textContent ?? '';
    expect(text).toContain('readiness probe GET http://127.0.0.1:8080/health failed 2× — HTTP 503: warming up');
    expect(screen.getByLabelText('Last log lines').textContent).toBe('web-1-a listening');
    expect(text).toContain('berth service rollback web');
  });

  it('says a failed first read and shows nothing before it', () => {
    const { container, rerender } = render(<WhyPanel explanation={undefined} error={undefined} />);
    expect(container.textContent).toBe('');
    rerender(<WhyPanel explanation={undefined} error="server unreachable" />);
    expect(container.textContent).toBe('Why: server unreachable');
  });
});
