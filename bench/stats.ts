export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One row: the figure, its baseline, and the ratio between them. */
export function row(label: string, value: number, baseline: number, unit = 'ms'): string {
  const ratio = value / baseline;
  // Below 1 a single decimal would print a 40x saving as 0.0x.
  const shownRatio = ratio < 1 ? ratio.toPrecision(2) : ratio.toFixed(1);
  return `${label.padEnd(46)} ${value.toFixed(2).padStart(9)} ${unit}   baseline ${baseline.toFixed(2).padStart(8)} ${unit}   ratio ${shownRatio.padStart(6)}x`;
}
