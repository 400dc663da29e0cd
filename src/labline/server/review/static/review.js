// labline review page: one item at a time, driven from the keyboard.
// Every value from the server is set with textContent (never as HTML).
(function () {
  "use strict";
  const root = document.body.dataset.root || "";
  const $ = (id) => document.getElementById(id);
  const state = { item: null, editing: null, busy: false, recent: [] };

  async function call(method, path, body) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-Labline-Review"] = "1";
      opts.body = JSON.stringify(body || {});
    }
    const resp = await fetch(root + path, opts);
    const data = await resp.json().catch(() => ({ error: "HTTP " + resp.status }));
    if (!resp.ok) {
      throw new Error(data.error || "HTTP " + resp.status);
    }
    return data;
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function text(el, value) {
    el.textContent = value === null || value === undefined ? "" : String(value);
  }

  function renderInput(item) {
    const box = $("input");
    box.replaceChildren();
    if (item.kind === "image") {
      const img = document.createElement("img");
      img.alt = "input of item " + item.id;
      img.width = 256;
      img.height = 256;
      img.src = item.image.url;
      box.appendChild(img);
    } else if (item.kind === "table") {
      const table = document.createElement("table");
      for (const [key, value] of item.table) {
        const tr = document.createElement("tr");
        const th = document.createElement("th");
        const td = document.createElement("td");
        text(th, key);
        text(td, value === null ? "—" : typeof value === "object" ? JSON.stringify(value) : value);
        tr.append(th, td);
        table.appendChild(tr);
      }
      box.appendChild(table);
    } else if (item.kind === "text") {
      const p = document.createElement("div");
      p.className = "text";
      text(p, item.text);
      box.appendChild(p);
    } else {
      const pre = document.createElement("pre");
      text(pre, item.values);
      box.appendChild(pre);
    }
  }

  function renderClasses(item) {
    const box = $("classes");
    box.replaceChildren();
    for (const c of item.classes) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.label = JSON.stringify(c.label);
      text(b, c.label);
      if (c.key !== null) {
        const k = document.createElement("kbd");
        text(k, c.key);
        b.append(" ", k);
      }
      if (String(c.label) === String(item.guess)) b.classList.add("guess");
      b.addEventListener("click", () => act({ kind: "label", label: c.label }));
      box.appendChild(b);
    }
  }

  function render(item) {
    state.item = item;
    $("empty").hidden = item !== null;
    $("item").hidden = item === null;
    if (item === null) return;
    text($("item-id"), item.id);
    text($("item-model"), item.model + "/" + item.version);
    text($("item-reason"), item.reason);
    text($("item-reviews"), item.reviews_done + "/" + item.reviews_needed);
    text($("guess"), item.guess);
    text($("confidence"), Number(item.confidence).toFixed(3));
    $("margin-wrap").hidden = item.margin === null;
    text($("margin"), item.margin === null ? "" : Number(item.margin).toFixed(3));
    renderInput(item);
    renderClasses(item);
    const banner = $("banner");
    banner.hidden = state.editing === null;
    text(banner, state.editing === null ? "" :
      "Editing your decision #" + state.editing.id + " on item " + item.id + " (Esc to stop)");
  }

  function renderRecent() {
    const list = $("recent");
    list.replaceChildren();
    for (const d of state.recent) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.decision = String(d.id);
      const shown = d.kind === "label" ? String(d.label) : d.kind;
      text(b, "item " + d.item_id + " → " + shown);
      b.addEventListener("click", () => startEditing(d));
      li.appendChild(b);
      list.appendChild(li);
    }
  }

  async function refreshSide() {
    const [recent, counts] = await Promise.all([call("GET", "/api/recent"), call("GET", "/api/counts")]);
    state.recent = recent.decisions;
    renderRecent();
    text($("counts"), counts.open + " open · " + counts.claimed + " claimed · " + counts.done + " done");
  }

  async function loadNext() {
    const order = $("order").value;
    const data = await call("GET", "/api/next?order=" + encodeURIComponent(order));
    state.editing = null;
    render(data.item);
    await refreshSide();
  }

  async function startEditing(decision) {
    if (decision.kind === "skip") {
      showError("a skip cannot be edited; Backspace undoes it");
      return;
    }
    const data = await call("GET", "/api/items/" + decision.item_id);
    state.editing = decision;
    render(data.item);
  }

  async function run(task) {
    if (state.busy) return;
    state.busy = true;
    document.body.dataset.busy = "1";
    try {
      await task();
      showError("");
    } catch (e) {
      showError(e.message);
    } finally {
      state.busy = false;
      delete document.body.dataset.busy;
    }
  }

  function act(choice) {
    return run(async () => {
      const item = state.item;
      if (item === null) return;
      if (state.editing !== null) {
        if (choice.kind === "skip") return;
        await call("POST", "/api/decisions/" + state.editing.id, choice);
      } else {
        await call("POST", "/api/items/" + item.id + "/decide", choice);
      }
      await loadNext();
    });
  }

  function undo() {
    return run(async () => {
      await call("POST", "/api/undo", {});
      await loadNext();
    });
  }

  function toggleHelp(show) {
    const help = $("help");
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  function keyFor(key) {
    if (state.item === null) return null;
    const c = state.item.classes.find((x) => x.key === key);
    if (c) return { kind: "label", label: c.label };
    if (state.item.classes.length === 0 && /^[0-9]$/.test(key)) return { kind: "label", label: key };
    return null;
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "SELECT" || tag === "INPUT" || tag === "TEXTAREA") return;
    const key = ev.key;
    if (key === "?") { ev.preventDefault(); toggleHelp(); return; }
    if (key === "Escape") {
      ev.preventDefault();
      if (!$("help").hidden) { toggleHelp(false); return; }
      if (state.editing !== null) run(loadNext);
      return;
    }
    if (key === "Backspace") { ev.preventDefault(); undo(); return; }
    if (state.item === null) return;
    if (key === "Enter") { ev.preventDefault(); act({ kind: "label", label: state.item.guess }); return; }
    if (key === "x" || key === "X") { ev.preventDefault(); act({ kind: "reject" }); return; }
    if (key === " ") { ev.preventDefault(); act({ kind: "skip" }); return; }
    const choice = keyFor(key);
    if (choice !== null) { ev.preventDefault(); act(choice); }
  });

  $("accept").addEventListener("click", () => state.item && act({ kind: "label", label: state.item.guess }));
  $("reject").addEventListener("click", () => act({ kind: "reject" }));
  $("skip").addEventListener("click", () => act({ kind: "skip" }));
  $("undo").addEventListener("click", () => undo());
  $("again").addEventListener("click", () => run(loadNext));
  $("help-button").addEventListener("click", () => toggleHelp());
  $("order").addEventListener("change", () => run(loadNext));
  run(loadNext);
})();
