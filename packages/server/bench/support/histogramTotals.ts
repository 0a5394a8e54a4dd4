/** Sum and count of a Prometheus histogram, so that two readings give the mean of what happened between them. */
export type HistogramTotals = { sum: number; count: number }

/**
 * Reads the `_sum` and `_count` of each named histogram from the backend's `/metrics`: zeros if
 * absent, NaN if the backend does not answer in time (a figure missing, not a run stopped).
 */
export async function histogramTotals(
  url: string,
  names: string[],
): Promise<Record<string, HistogramTotals>> {
  const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })
    .then((r) => r.text())
    .catch(() => undefined)
  if (text === undefined)
    return Object.fromEntries(names.map((name) => [name, { sum: Number.NaN, count: 0 }]))
  const value = (series: string) =>
    Number(new RegExp(`^${series}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  return Object.fromEntries(
    names.map((name) => [name, { sum: value(`${name}_sum`), count: value(`${name}_count`) }]),
  )
}

/** Mean in ms of what a histogram in seconds observed between two readings (NaN if nothing). */
export const meanMsBetween = (before: HistogramTotals, after: HistogramTotals) =>
  ((after.sum - before.sum) / (after.count - before.count)) * 1000
