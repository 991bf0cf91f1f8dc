// One dashboard panel: a card with a title, and either the chart (or
// table) render(rows) returns, or a visible "No data" / "Error" that the
// browser test (dashboards/test.sh) fails on.  A row counts as data when its
// value is a number.
export function panel(title, rows, render) {
  const card = document.createElement("div");
  card.className = "card csm-panel";
  card.dataset.panel = title;
  const heading = document.createElement("h2");
  heading.textContent = title;
  card.append(heading);
  const n = rows.filter((r) => typeof r.value === "number" && Number.isFinite(r.value)).length;
  if (n === 0) {
    card.classList.add("csm-panel-empty");
    card.append("No data");
    return card;
  }
  try {
    card.append(render(rows));
    card.dataset.rows = String(n);
    card.classList.add("csm-panel-ok");
  } catch (error) {
    card.classList.add("csm-panel-error");
    card.append(`Error: ${error.message}`);
  }
  return card;
}

// A table of metric rows: label, value with its unit, and an optional flag.
export function metricTable(rows, {label = (r) => r.metric, flag} = {}) {
  const table = document.createElement("table");
  for (const r of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = label(r);
    const v = tr.insertCell();
    v.style.textAlign = "right";
    v.textContent = formatValue(r.value, r.unit);
    if (flag) tr.insertCell().textContent = flag(r);
  }
  return table;
}

export function formatValue(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "USD") return "$" + Math.round(value).toLocaleString("en-US");
  if (unit === "%") return value.toFixed(1) + "%";
  return value.toLocaleString("en-US") + (unit && unit !== "count" && unit !== "accounts" ? " " + unit : "");
}
