import { describe, expect, it } from 'vitest';
import { appendSample, formatBytes, formatCpu, sparklinePoints } from './sparkline.js';

const box = { width: 60, height: 20 };

describe('sparklinePoints', () => {
  it('draws nothing for an empty series', () => {
    expect(sparklinePoints([], box)).toBe('');
  });
  it('draws one sample as a flat line across the box', () => {
    expect(sparklinePoints([5], box)).toBe('0,0 60,0');
  });
  it('spreads samples evenly and puts the largest at the top and 0 at the bottom', () => {
    expect(sparklinePoints([0, 10, 5], box)).toBe('0,20 30,0 60,10');
  });
  it('scales to the floor when every sample is below it, so noise stays flat', () => {
    expect(sparklinePoints([0.5, 1], box, { floor: 10 })).toBe('0,19 60,18');
  });
  it('keeps an all-zero series on the bottom line and treats bad samples as 0', () => {
    expect(sparklinePoints([0, Number.NaN, -3], box)).toBe('0,20 30,20 60,20');
  });
});

describe('appendSample', () => {
  it('keeps only the newest samples up to the limit without changing the input', () => {
    const before = [1, 2, 3];
    expect(appendSample(before, 4, 3)).toEqual([2, 3, 4]);
    expect(before).toEqual([1, 2, 3]);
    expect(appendSample(undefined, 7, 3)).toEqual([7]);
  });
});

describe('formatting', () => {
  it('says CPU as percent of a core and memory in binary units', () => {
    expect(formatCpu(0.25)).toBe('0.3 %');
    expect(formatCpu(150.4)).toBe('150 %');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(35 * 1024 * 1024 + 512 * 1024)).toBe('35.5 MiB');
    expect(formatBytes(200 * 1024)).toBe('200 KiB');
  });
});
