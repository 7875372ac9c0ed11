// @vitest-environment happy-dom
import { cleanup, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SessionProvider } from '../../session/session.js';
import { ServiceEditLinks } from './service-edit-links.js';

/** Signs in as `grants` through the real SessionProvider: `GET /v1/whoami` answered by a stub fetch. */
function renderAs(grants: readonly { role: string; grid?: string }[]): void {
  window.localStorage.setItem('berth.token', 't');
  vi.spyOn(window, 'fetch').mockImplementation(async () => new Response(JSON.stringify({ kind: 'user', subject: 'ann', grants }), { status: 200, headers: { 'content-type': 'application/json' } }));
  render(
    <SessionProvider signedOut={() => <p>signed out</p>}>
      <p>signed in</p>
      <ServiceEditLinks grid="default" name="web" />
    </SessionProvider>,
  );
}

describe('ServiceEditLinks', () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it('links an operator to the five write pages of the service', async () => {
    renderAs([{ role: 'operator', grid: 'default' }]);
    const nav = await screen.findByRole('navigation', { name: 'Change web' });
    const links = [...nav.querySelectorAll('a')].map((a) => [a.textContent, a.getAttribute('href')]);
    expect(links).toEqual([
      ['Edit', '/grids/default/services/web/edit'],
      ['Edit Service', '/grids/default/services/web/edit-service'],
      ['Edit Internet Access', '/grids/default/services/web/internet-access'],
      ['Edit YAML', '/grids/default/services/web/edit-yaml'],
      ['Delete', '/grids/default/services/web/delete'],
    ]);
  });

  it('shows a viewer nothing', async () => {
    renderAs([{ role: 'viewer', grid: 'default' }]);
    await screen.findByText('signed in');
    expect(screen.queryByRole('navigation')).toBeNull();
    expect(screen.queryByRole('link')).toBeNull();
  });
});
