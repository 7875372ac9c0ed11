import { useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';

/**
 * A button that asks before it acts: the first press shows the question with "Yes, <label>" and
 * "Cancel" in its place (focus moves to "Yes"; Escape cancels), the second runs `onConfirm`.
 */
export function ConfirmButton({ label, question, onConfirm, disabled, danger }: { readonly label: string; readonly question: string; readonly onConfirm: () => void; readonly disabled?: boolean; readonly danger?: boolean }): ReactNode {
  const [asking, setAsking] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) yes.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" className={danger ? 'danger' : undefined} disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question} onKeyDown={(e) => e.key === 'Escape' && setAsking(false)}>
      <span className="small">{question}</span>
      <button
        ref={yes}
        type="button"
        className={danger ? 'danger' : 'primary'}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}
