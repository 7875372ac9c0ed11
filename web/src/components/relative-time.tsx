import { useEffect, useState } from 'react';
import type { ReactNode } from 'react';

/** "5s ago", "3m ago", "2h ago", "4d ago" for a past time; "in 3m" for a future one. */
export function relativeTime(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((now - t) / 1000);
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.floor(abs / 60)}m` : abs < 86_400 ? `${Math.floor(abs / 3600)}h` : `${Math.floor(abs / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

let ticking: ((now: number) => void)[] = [];
let timer: ReturnType<typeof setInterval> | undefined;

/** One shared 5 s clock for every relative time on the page (not a timer per cell). */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    ticking.push(setNow);
    timer ??= setInterval(() => {
      const t = Date.now();
      for (const f of ticking) f(t);
    }, 5000);
    return () => {
      ticking = ticking.filter((f) => f !== setNow);
      if (ticking.length === 0 && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
    };
  }, []);
  return now;
}

/** A time shown relative ("3m ago"), the absolute local time on hover and for assistive technology. */
export function RelativeTime({ iso }: { readonly iso: string }): ReactNode {
  const now = useNow();
  const absolute = new Date(iso).toLocaleString();
  return (
    <time dateTime={iso} title={absolute} aria-label={absolute}>
      {relativeTime(iso, now)}
    </time>
  );
}
