// A grouped bar chart as standalone SVG (no dependencies): one group per x value, one bar per series.

const COLORS = ['#2563eb', '#f97316', '#a855f7', '#16a34a', '#dc2626', '#0891b2', '#ca8a04'];

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
}

/** A "nice" axis maximum and tick step above `max` (1, 2 or 5 times a power of ten). */
function axis(max) {
  const rough = max / 5 || 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= rough);
  return { step, top: Math.ceil(max / step) * step || step };
}

/**
 * `groups`: x labels; `series`: [{ name, values }] with one value per group (NaN leaves a gap). Bars are
 * labelled with their value; `title` and `yLabel` head the chart.
 */
export function groupedBarChart({ title, yLabel, groups, series }) {
  const width = 860;
  const height = 420;
  const margin = { top: 50, right: 210, bottom: 50, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const values = series.flatMap((s) => s.values).filter(Number.isFinite);
  const { step, top } = axis(Math.max(...values, 1));
  const y = (value) => margin.top + plotH - (value / top) * plotH;
  const groupW = plotW / groups.length;
  const barW = (groupW * 0.8) / series.length;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${margin.left}" y="24" font-size="15" font-weight="bold">${escape(title)}</text>`,
    `<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`,
  ];
  for (let tick = 0; tick <= top; tick += step) {
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y(tick)}" y2="${y(tick)}" stroke="#e5e7eb"/>`,
      `<text x="${margin.left - 6}" y="${y(tick) + 4}" text-anchor="end">${tick}</text>`,
    );
  }
  groups.forEach((group, g) => {
    const x0 = margin.left + g * groupW + groupW * 0.1;
    series.forEach((s, i) => {
      const value = s.values[g];
      if (!Number.isFinite(value)) return;
      const x = x0 + i * barW;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(margin.top + plotH - y(value)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"/>`,
        `<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(y(value) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${Math.round(value)}</text>`,
      );
    });
    parts.push(
      `<text x="${(margin.left + (g + 0.5) * groupW).toFixed(1)}" y="${margin.top + plotH + 20}" text-anchor="middle">${escape(group)}</text>`,
    );
  });
  parts.push(
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" y2="${margin.top + plotH}" stroke="#111827"/>`,
  );
  series.forEach((s, i) => {
    const ly = margin.top + 10 + i * 22;
    parts.push(
      `<rect x="${width - margin.right + 20}" y="${ly - 10}" width="14" height="14" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${width - margin.right + 40}" y="${ly + 1}">${escape(s.name)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
