// Rosey status page: live updates over server-sent events, and the say form.
// Data from the server is only ever set as text (textContent), never as
// markup; the chart is an SVG the server drew from numbers alone.
"use strict";

function text(id, value) {
  const el = document.getElementById(id);
  if (el) el.textContent = value === null || value === undefined || value === "" ? "-" : String(value);
}

function cell(row, value, cls) {
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "-" : String(value);
  if (cls) td.className = cls;
  row.appendChild(td);
}

function timeOfDay(unix) {
  const s = ((unix % 86400) + 86400) % 86400;
  const pad = (n) => String(n).padStart(2, "0");
  return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor(s / 60) % 60) + ":" + pad(s % 60);
}

function render(update) {
  const st = update.status;
  text("channel", st.channel);
  text("bot-name", st.bot_name);
  text("bot-rank", st.bot_rank);
  const connected = document.getElementById("bot-connected");
  connected.textContent = st.bot_connected ? "yes" : "no";
  connected.className = st.bot_connected ? "yes" : "no";
  text("chat-users", st.chat_users);
  text("connected-users", st.connected_users);
  if (st.media_title && st.media_duration !== null) {
    const d = st.media_duration;
    text("media", st.media_title + " (" + Math.floor(d / 60) + ":" + String(d % 60).padStart(2, "0") + ")");
  } else {
    text("media", st.media_title);
  }

  const online = document.getElementById("online");
  online.replaceChildren(...update.online.map((name) => {
    const li = document.createElement("li");
    li.textContent = name;
    return li;
  }));
  text("online-count", update.online.length);

  const top = document.querySelector("#top-chatters tbody");
  top.replaceChildren(...update.top_chatters.map((c) => {
    const tr = document.createElement("tr");
    cell(tr, c.username);
    cell(tr, c.chat_lines);
    return tr;
  }));

  const chat = document.getElementById("recent-chat");
  chat.replaceChildren(...update.recent_chat.map((line) => {
    const li = document.createElement("li");
    const time = document.createElement("time");
    time.textContent = timeOfDay(line.timestamp);
    const user = document.createElement("b");
    user.className = "user";
    user.textContent = line.username;
    const msg = document.createElement("span");
    msg.className = "msg";
    msg.textContent = line.text;
    li.append(time, " ", user, " ", msg);
    return li;
  }));

  const outbound = document.querySelector("#outbound tbody");
  outbound.replaceChildren(...update.outbound.map((m) => {
    const tr = document.createElement("tr");
    cell(tr, m.id);
    cell(tr, m.message);
    cell(tr, m.state, "state " + m.state);
    cell(tr, m.retry_count);
    cell(tr, m.last_error);
    return tr;
  }));

  // The server's SVG: drawn from numbers only.
  document.getElementById("chart").innerHTML = update.chart;
}

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/events");
  events.addEventListener("snapshot", (e) => {
    render(JSON.parse(e.data));
    live.textContent = "live";
    live.className = "live on";
    document.body.dataset.updates = String(Number(document.body.dataset.updates || "0") + 1);
  });
  events.onerror = () => {
    live.textContent = "reconnecting…";
    live.className = "live off";
  };
}

function sayForm() {
  const form = document.getElementById("say-form");
  const result = document.getElementById("say-result");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = document.getElementById("say-token").value;
    const message = document.getElementById("say-message").value;
    result.textContent = "sending…";
    try {
      const response = await fetch("/api/say", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token },
        body: JSON.stringify({ message: message }),
      });
      const body = await response.json();
      if (response.ok && body.queued) {
        result.textContent = "queued #" + body.id;
        result.className = "ok";
        document.getElementById("say-message").value = "";
      } else {
        result.textContent = body.error || ("HTTP " + response.status);
        result.className = "error";
      }
    } catch (err) {
      result.textContent = String(err);
      result.className = "error";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  listen();
  sayForm();
});
