import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { YamlEditor } from './yaml-editor.js';

const TEXT = 'name: web\ncontainers:\n  - command: [sleep, "1"]\n    ports:\n      - name: Bad_Port\n';

describe('YamlEditor', () => {
  afterEach(cleanup);

  it('marks the error line in the gutter, notes the message at that line, and lists it above', () => {
    const field = 'spec.containers[0].ports[0].name';
    const { container } = render(<YamlEditor value={TEXT} onChange={() => undefined} errors={[{ line: 5, message: `${field}: Invalid value: "Bad_Port"`, field }]} />);
    const marked = [...container.querySelectorAll('.yaml-ln-error')].map((e) => (e as HTMLElement).dataset['line']);
    expect(marked).toEqual(['5']);
    expect(container.querySelectorAll('.yaml-ln')).toHaveLength(6);
    // At its line the note leaves out the field path; the list keeps the whole message.
    expect(container.querySelector('[data-error-line="5"]')?.textContent).toBe('⚠ Invalid value: "Bad_Port"');
    const list = screen.getByRole('list', { name: 'Errors in the YAML' });
    expect(list.textContent).toBe(`Line 5: ${field}: Invalid value: "Bad_Port"`);
    const area = screen.getByLabelText('YAML');
    expect(area.getAttribute('aria-invalid')).toBe('true');
    expect(area.getAttribute('aria-describedby')).toBe(list.id);
  });

  it('puts the caret on the line when its error is chosen from the list', () => {
    render(<YamlEditor value={TEXT} onChange={() => undefined} errors={[{ line: 5, message: 'bad' }]} />);
    fireEvent.click(screen.getByRole('button', { name: 'Line 5' }));
    const area = screen.getByLabelText('YAML') as HTMLTextAreaElement;
    expect(document.activeElement).toBe(area);
    expect(TEXT.slice(area.selectionStart, area.selectionEnd)).toBe('      - name: Bad_Port');
  });

  it('has no error list and no marks without errors, and passes edits up', () => {
    const onChange = vi.fn();
    const { container } = render(<YamlEditor value={TEXT} onChange={onChange} errors={[]} />);
    expect(screen.queryByRole('list')).toBeNull();
    expect(container.querySelectorAll('.yaml-ln-error')).toHaveLength(0);
    fireEvent.change(screen.getByLabelText('YAML'), { target: { value: 'name: x\n' } });
    expect(onChange).toHaveBeenCalledWith('name: x\n');
  });

  it('replaces the text with an uploaded file', async () => {
    const onChange = vi.fn();
    const { container } = render(<YamlEditor value={TEXT} onChange={onChange} errors={[]} />);
    const input = container.querySelector('input[type=file]') as HTMLInputElement;
    const file = new File(['name: uploaded\n'], 'svc.yaml', { type: 'application/yaml' });
    fireEvent.change(input, { target: { files: [file] } });
    await waitFor(() => expect(onChange).toHaveBeenCalledWith('name: uploaded\n'));
  });
});
