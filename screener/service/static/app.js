// screener upload page: drop zone, progress polling, table filter and sort. No inline script (CSP).
"use strict";

function setupDrop() {
  const drop = document.getElementById("drop");
  const input = document.getElementById("file");
  const text = document.getElementById("drop-text");
  if (!drop || !input) return;
  const show = () => {
    if (input.files && input.files.length) {
      text.textContent = input.files[0].name;
      drop.classList.add("chosen");
    }
  };
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach((e) => drop.addEventListener(e, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((e) => drop.addEventListener(e, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    if (ev.dataTransfer && ev.dataTransfer.files.length) {
      input.files = ev.dataTransfer.files;
      show();
    }
  });
}

function setupJob() {
  const box = document.getElementById("job");
  if (!box) return;
  const url = box.dataset.statusUrl;
  const fill = document.getElementById("fill");
  const text = document.getElementById("job-text");
  const error = document.getElementById("job-error");
  const poll = async () => {
    let data;
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (res.status === 401) { window.location.href = "/signin"; return; }
      data = await res.json();
    } catch (e) {
      setTimeout(poll, 2000);
      return;
    }
    if (data.percent !== null && data.percent !== undefined) {
      fill.classList.remove("indeterminate");
      fill.style.width = data.percent + "%";
      document.getElementById("bar").setAttribute("aria-valuenow", data.percent);
    }
    const total = data.total ? " of about " + data.total.toLocaleString() : "";
    if (data.state === "columns" && data.url) {  // the worker needs the name column chosen
      window.location.href = data.url;
      return;
    }
    if (data.state === "done" && data.url) {
      text.textContent = data.rows.toLocaleString() + " rows screened. Opening the results…";
      window.location.href = data.url;
      return;
    }
    if (data.state === "failed") {
      fill.classList.remove("indeterminate");
      text.textContent = "Screening failed.";
      error.textContent = data.error || "Screening failed.";
      error.hidden = false;
      return;
    }
    text.textContent = (data.state === "queued" ? "Waiting for another upload to finish… " : "")
      + data.rows.toLocaleString() + total + " rows screened…";
    setTimeout(poll, 600);
  };
  poll();
}

// Filters match the row's key fields (data-search), not the cited sources' full text.
function setupFilters() {
  document.querySelectorAll("input.filter").forEach((input) => {
    const table = document.getElementById(input.dataset.filter);
    if (!table) return;
    input.addEventListener("input", () => {
      const words = input.value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
      table.tBodies[0].querySelectorAll("tr").forEach((tr) => {
        const hay = (tr.dataset.search || tr.textContent).toLocaleLowerCase();
        tr.hidden = !words.every((w) => hay.includes(w));
      });
    });
  });
}

function setupSort() {
  document.querySelectorAll("button.sort").forEach((btn) => {
    btn.addEventListener("click", () => {
      const table = document.getElementById(btn.dataset.table);
      const key = btn.dataset.key;
      const numeric = btn.dataset.type === "num";
      const dir = btn.dataset.dir === "desc" ? "asc" : (btn.dataset.dir === "asc" ? "desc" : (numeric ? "desc" : "asc"));
      table.querySelectorAll("button.sort").forEach((b) => delete b.dataset.dir);
      btn.dataset.dir = dir;
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      const value = (tr) => (numeric ? parseFloat(tr.dataset[key] || "-1") : (tr.dataset[key] || "").toLocaleLowerCase());
      rows.sort((a, b) => {
        const x = value(a), y = value(b);
        const c = numeric ? x - y : x.localeCompare(y);
        return dir === "asc" ? c : -c;
      });
      rows.forEach((tr) => body.appendChild(tr));
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupDrop();
  setupJob();
  setupFilters();
  setupSort();
});
