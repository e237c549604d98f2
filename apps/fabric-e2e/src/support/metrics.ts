/** Sum of a Prometheus metric's samples on an app's `/metrics`, over the series whose labels include `labels`. */
export async function metricValue(
  baseUrl: string,
  name: string,
  labels: Record<string, string> = {},
  init?: RequestInit,
): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`, init)).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  return text
    .split('\n')
    .filter(
      (line) =>
        (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && wanted.every((label) => line.includes(label)),
    )
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}
