// Lore's pages work without this script; it streams answers as they are written and keeps the
// ingestion progress live. No dependencies, nothing loaded from elsewhere.
"use strict";

// Reads a fetch() response as server-sent events: calls onEvent(name, data) for each.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function setupAsk() {
  const form = document.getElementById("search-form");
  const button = document.getElementById("ask-button");
  if (!form || !button) return;
  const panel = document.getElementById("answer");
  const status = document.getElementById("answer-status");
  const text = document.getElementById("answer-text");
  const sources = document.getElementById("answer-sources");
  const evidence = document.getElementById("answer-evidence");

  const conversation = document.getElementById("conversation");
  const turns = document.getElementById("conversation-turns");
  let previous = null; // the question and answer on show, which a follow-up moves into the turns

  form.addEventListener("submit", async (event) => {
    if (event.submitter !== button) return; // plain search: the normal page load
    event.preventDefault();
    const data = new FormData(form);
    const question = (data.get("q") || "").toString().trim();
    if (!question) { document.getElementById("q").focus(); return; }
    if (previous && turns) {
      const item = el("li", { class: "turn" });
      item.append(el("p", { class: "question" }, previous.question), previous.text, previous.sources);
      turns.querySelector(".turns").append(item);
      turns.hidden = false;
      previous = null;
    }
    const url = new URL(window.location.href);
    url.searchParams.set("q", question);
    history.replaceState(null, "", url);
    panel.hidden = false;
    text.className = "answer-text draft";
    text.textContent = "";
    sources.replaceChildren();
    evidence.hidden = true;
    status.textContent = "Searching the documents…";
    button.disabled = true;
    const started = performance.now();
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify({
          question,
          source: data.getAll("source"),
          type: data.getAll("type"),
          conversation: conversation && !conversation.disabled ? Number(conversation.value) : undefined,
        }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        const retry = response.headers.get("Retry-After");
        const message = (body.error && body.error.message) || `the server answered ${response.status}`;
        status.textContent = retry ? `${message} (try again in ${retry} s)` : message;
        status.className = "status error";
        return;
      }
      status.className = "status";
      await readEvents(response, (name, payload) => {
        if (name === "conversation" && conversation) {
          // Signed in: this question is (or continues) a conversation kept for you; follow-ups join it.
          conversation.value = String(payload.id);
          conversation.disabled = false;
          const here = new URL(window.location.href);
          here.searchParams.set("conversation", String(payload.id));
          history.replaceState(null, "", here);
        } else if (name === "standalone") status.textContent = `Searching for: ${payload.question}`;
        else if (name === "passages") {
          status.textContent = payload.length
            ? `Reading ${payload.length} passages… (the local model takes a while to read them)`
            : "Nothing found that you may read.";
        } else if (name === "evidence") {
          // The likeliest answer, quoted from the documents, while the model is still reading.
          document.getElementById("answer-evidence-text").textContent = payload.quote;
          const link = document.getElementById("answer-evidence-source");
          link.href = `/documents/${payload.document_id}?start=${payload.start}&end=${payload.end}#cited`;
          link.textContent = `[${payload.n}] ${payload.title}` + (payload.page ? `, page ${payload.page}` : "");
          evidence.hidden = false;
        } else if (name === "token") {
          if (!text.textContent) status.textContent = "Writing the answer…";
          text.textContent += payload.text;
        } else if (name === "retry") {
          text.textContent = "";
          status.textContent = "That draft was not supported by the documents: trying again from the best passage…";
        } else if (name === "sentence") {
          status.textContent = "Checking every sentence against the documents…";
        } else if (name === "rendered") {
          text.className = "answer-text";
          text.innerHTML = payload.html; // built and escaped by the server
          status.textContent = payload.abstained ? "No answer: here are the closest sources." : "";
          for (const source of payload.sources) {
            const item = el("li", { value: String(source.n) });
            item.append(el("a", { href: source.url }, source.title), " ", el("span", { class: "meta" }, source.detail));
            sources.append(item);
          }
        } else if (name === "answer") {
          if (conversation && !conversation.disabled) {
            previous = { question, text: text.cloneNode(true), sources: sources.cloneNode(true) };
            previous.text.removeAttribute("id");
            previous.sources.removeAttribute("id");
          }
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          if (!payload.abstained) status.textContent = `Checked against the documents · support ${payload.support.toFixed(2)} · ${seconds} s`;
        } else if (name === "error") {
          status.textContent = payload.error.message;
          status.className = "status error";
        }
      });
    } catch (error) {
      status.textContent = `The answer stopped: ${error.message}`;
      status.className = "status error";
    } finally {
      button.disabled = false;
    }
  });
}

function renderStatus(container, status) {
  const parts = [];
  const run = status.running;
  if (run) {
    const line = el("p");
    line.append(el("strong", {}, `${run.action} ${run.source}`),
      `: ${run.phase} · ${run.done} of ${run.to_read} files read · ${run.chunks_embedded} chunks embedded` +
      (run.failed ? ` · ${run.failed} failed` : "") + (run.last_file ? ` · ${run.last_file}` : ""));
    parts.push(line);
    const bar = el("progress", { max: String(Math.max(run.to_read, 1)), value: String(run.done) });
    bar.setAttribute("aria-label", `${run.done} of ${run.to_read} files`);
    parts.push(bar);
  } else {
    parts.push(el("p", {}, "Idle."));
  }
  if (status.queued.length) {
    parts.push(el("p", { class: "meta" }, "Waiting: " + status.queued.map((j) => `${j.action} ${j.source}`).join(", ")));
  }
  if (status.recent.length) {
    const list = el("ul", { class: "runs" });
    for (const r of status.recent) {
      const item = el("li");
      item.append(el("strong", {}, `${r.action} ${r.source}`), ` ${r.outcome}: ${r.message} (${r.seconds.toFixed(1)} s)`);
      list.append(item);
    }
    parts.push(list);
  }
  container.replaceChildren(...parts);
}

function setupAdmin() {
  const live = document.getElementById("ingest-live");
  if (!live) return;
  let wasRunning = JSON.parse(live.dataset.status).running !== null;
  const events = new EventSource("/api/ingest/events");
  events.addEventListener("status", (event) => {
    const status = JSON.parse(event.data);
    renderStatus(live, status);
    // A job just finished: the sources table and failures changed.
    if (wasRunning && !status.running && !status.queued.length) window.location.reload();
    wasRunning = status.running !== null;
  });
  for (const form of document.querySelectorAll("form.confirm")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupAsk();
  setupAdmin();
});
