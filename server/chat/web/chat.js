// SPDX-License-Identifier: MIT
// The chat page's client: chat.proto (parsed by protobufjs) over one WebSocket, ONE binary
// message = ONE frame (docs/protocol.md: u32 LE body length, u32 LE message id, body).
//
// Every element a test drives has a stable id or data attribute (index.html); the state of the
// connection is #status[data-state]: loading, connecting, open (connected, not logged in),
// online (logged in), reconnecting (data-retry-ms says when), failed (the page could not start).
"use strict";

(function () {
  const RECONNECT_MIN_MS = 500;
  const RECONNECT_MAX_MS = 30000;

  // ---- Message ids: FNV-1a 32-bit of the full protobuf name (docs/protocol.md#message-ids).
  function fnv1a32(name) {
    let h = 0x811c9dc5;
    for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 16777619) >>> 0;
    return h >>> 0;
  }

  const $ = (id) => document.getElementById(id);

  // The control, invisible and bidi characters docs/chat.md escapes when it logs text: shown
  // as \u{XXXX} so a nickname or a chat line cannot reorder what the page shows around it.
  const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
  function visible(s) {
    return String(s).replace(UNSAFE, (c) => "\\u{" + c.codePointAt(0).toString(16).toUpperCase() + "}");
  }

  function nowUs() {
    return Math.round((performance.timeOrigin + performance.now()) * 1000);
  }

  // ---- State. One object, so a test can read it (window.gsChat.state).
  const state = {
    root: null,           // protobufjs Root of chat.proto
    types: new Map(),     // message id -> Type
    ids: new Map(),       // full name -> message id
    ws: null,
    nick: "",             // the nickname asked for (kept across reconnects)
    loggedIn: false,
    wantOnline: false,    // the user logged in (or tried): log in again after a reconnect
    hadSession: false,    // a LoginReply came on an earlier connection
    reloginTries: 0,      // NICK_TAKEN answers to automatic logins since the last success
    rooms: new Map(),     // joined room -> Set of members
    wantRooms: new Set(), // rooms to be in after a reconnect (joined or joining)
    current: "",          // the room the chat input speaks in
    nextRequestId: 1,
    pending: new Map(),   // request_id -> { name, ... } of requests not yet answered
    seq: 0,               // per sender: +1 per ChatSend and WhisperSend (chat.proto)
    heartbeatMs: 0,
    pingTimer: 0,
    retryMs: RECONNECT_MIN_MS,
    retryTimer: 0,
    roomListNext: "",
    limits: null,
  };

  function setStatus(s, text) {
    const el = $("status");
    el.dataset.state = s;
    el.textContent = text || s;
  }

  // ---- Output.
  function addMessage(kind, room, fields, text) {
    const el = document.createElement("div");
    el.className = "msg " + kind;
    el.dataset.kind = kind;
    el.dataset.room = room;
    for (const [k, v] of Object.entries(fields)) el.dataset[k] = String(v);
    el.textContent = text;
    el.hidden = room !== "" && room !== state.current;
    $("messages").appendChild(el);
    if (!el.hidden) el.scrollIntoView({ block: "nearest" });
    return el;
  }

  function showError(code, detail, requestName) {
    const el = document.createElement("div");
    el.className = "error";
    el.dataset.code = code;
    el.dataset.request = requestName || "";
    el.textContent = code + ": " + visible(detail || "") + (requestName ? " (" + requestName + ")" : "");
    $("errors").appendChild(el);
    el.scrollIntoView({ block: "nearest" });
  }

  // ---- Frames.
  function encodeFrame(name, fields) {
    const type = state.root.lookupType(name);
    const problem = type.verify(fields);
    if (problem) throw new Error(name + ": " + problem);
    // protobufjs writes every field that is set, a 0 or "" too; proto3 (and protoc-c) leave
    // fields at their default out. Dropping them gives the bytes the C side would send.
    const present = {};
    for (const [k, v] of Object.entries(fields)) {
      const f = type.fields[k];
      if (f && !f.repeated && !f.map && (v === 0 || v === "" || v === false)) continue;
      present[k] = v;
    }
    const body = type.encode(type.create(present)).finish();
    const frame = new Uint8Array(8 + body.length);
    const dv = new DataView(frame.buffer);
    dv.setUint32(0, body.length, true);
    dv.setUint32(4, state.ids.get(name), true);
    frame.set(body, 8);
    return frame;
  }

  // Sends a request with a fresh request_id and remembers it, so its reply or Error can be
  // told apart. Returns the request_id, or 0 if the socket is not open.
  function request(name, fields, info) {
    const ws = state.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      showError("CLIENT_NOT_CONNECTED", "not connected: " + name + " not sent", name);
      return 0;
    }
    const id = state.nextRequestId++;
    state.pending.set(id, Object.assign({ name }, info || {}));
    ws.send(encodeFrame(name, Object.assign({ request_id: id }, fields)));
    return id;
  }

  function decodeFrame(buf) {
    if (buf.byteLength < 8) throw new Error("frame shorter than its header: " + buf.byteLength + " bytes");
    const dv = new DataView(buf);
    const len = dv.getUint32(0, true);
    const id = dv.getUint32(4, true);
    if (len !== buf.byteLength - 8)
      throw new Error("frame header says " + len + " body bytes, message has " + (buf.byteLength - 8));
    const type = state.types.get(id);
    if (!type) throw new Error("unknown message id 0x" + id.toString(16));
    const msg = type.decode(new Uint8Array(buf, 8, len));
    const obj = type.toObject(msg, { enums: String, longs: Number, defaults: true, arrays: true });
    return { name: type.fullName.slice(1), obj };
  }

  // ---- Connection.
  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  }

  function connect() {
    clearTimeout(state.retryTimer);
    state.retryTimer = 0;
    setStatus("connecting", "connecting to " + wsUrl());
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      showError("CLIENT_CONNECT", String(e));
      scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    ws.onopen = () => {
      if (state.ws !== ws) return;
      setStatus("open", "connected");
      if (state.wantOnline && state.nick) login(state.nick, state.hadSession);
    };
    ws.onmessage = (ev) => {
      if (state.ws !== ws) return;
      if (typeof ev.data === "string") {
        showError("CLIENT_PROTOCOL", "text message from the server: ignored");
        return;
      }
      let m;
      try {
        m = decodeFrame(ev.data);
      } catch (e) {
        showError("CLIENT_PROTOCOL", e.message);
        return;
      }
      handle(m.name, m.obj);
    };
    ws.onclose = (ev) => {
      if (state.ws !== ws) return;
      state.ws = null;
      dropped("closed (code " + ev.code + (ev.reason ? ", " + ev.reason : "") + ")");
    };
    // onerror carries no detail in browsers; onclose always follows it.
  }

  function dropped(why) {
    const wasOnline = state.loggedIn;
    state.loggedIn = false;
    state.pending.clear();
    state.rooms.clear();
    stopPing();
    renderRooms();
    if (wasOnline) addMessage("system", "", {}, "* connection " + why);
    scheduleReconnect(why);
  }

  // Exponential back-off with jitter, reset by a successful login.
  function scheduleReconnect(why) {
    const delay = Math.round(state.retryMs * (0.75 + Math.random() * 0.5));
    state.retryMs = Math.min(state.retryMs * 2, RECONNECT_MAX_MS);
    $("status").dataset.retryMs = String(delay);
    setStatus("reconnecting", (why ? why + "; " : "") + "reconnecting in " + (delay / 1000).toFixed(1) + " s");
    state.retryTimer = setTimeout(connect, delay);
  }

  function startPing(heartbeatMs) {
    stopPing();
    if (!heartbeatMs) return;
    // Half the heartbeat, like gs-chat: a late timer still keeps the session alive.
    state.pingTimer = setInterval(() => {
      request("chat.Ping", { client_time_us: nowUs() }, { auto: true });
    }, Math.max(100, Math.floor(heartbeatMs / 2)));
  }

  function stopPing() {
    clearInterval(state.pingTimer);
    state.pingTimer = 0;
  }

  // ---- Requests from the page.
  function login(nick, relogin) {
    state.nick = nick;
    state.wantOnline = true;
    request("chat.LoginRequest", { nickname: nick }, { relogin: !!relogin });
  }

  function join(room) {
    state.wantRooms.add(room);
    request("chat.JoinRequest", { room }, { room });
  }

  function leave(room) {
    state.wantRooms.delete(room);
    request("chat.LeaveRequest", { room }, { room });
  }

  function roomList(after) {
    request("chat.RoomListRequest", { after }, { append: after !== "" });
  }

  function say(text) {
    if (!state.current) {
      showError("CLIENT_NO_ROOM", "join a room first");
      return;
    }
    state.seq += 1;
    request("chat.ChatSend", { room: state.current, text, seq: state.seq, sent_at_us: nowUs() });
  }

  function whisper(to, text) {
    state.seq += 1;
    request("chat.WhisperSend", { to, text, seq: state.seq, sent_at_us: nowUs() }, { to, text });
  }

  // ---- Replies and deliveries.
  function handle(name, m) {
    const req = m.request_id ? state.pending.get(m.request_id) : undefined;
    if (m.request_id) state.pending.delete(m.request_id);
    switch (name) {
      case "chat.LoginReply":
        state.loggedIn = true;
        state.nick = m.nickname;
        state.retryMs = RECONNECT_MIN_MS;
        state.hadSession = true;
        state.reloginTries = 0;
        state.heartbeatMs = m.heartbeat_ms;
        state.limits = m;
        $("me").dataset.nick = m.nickname;
        $("me").textContent = "as " + visible(m.nickname);
        setStatus("online", "logged in as " + visible(m.nickname));
        startPing(m.heartbeat_ms);
        // After a reconnect: back into every room the user was in (or joining).
        for (const room of state.wantRooms) request("chat.JoinRequest", { room }, { room, rejoin: true });
        roomList("");
        break;
      case "chat.Pong":
        $("rtt").textContent = "rtt " + ((nowUs() - m.client_time_us) / 1000).toFixed(1) + " ms";
        break;
      case "chat.RoomList":
        renderRoomList(m, req && req.append);
        break;
      case "chat.JoinReply":
        state.rooms.set(m.room, new Set(m.members));
        state.wantRooms.add(m.room);
        // A join the user asked for shows its room; a re-join after a reconnect keeps the room
        // that was shown (and shows the first one back if none was).
        if (!(req && req.rejoin) || !state.wantRooms.has(state.current) || m.room === state.current)
          selectRoom(m.room);
        addMessage("event", m.room, { nick: state.nick },
          "* joined " + visible(m.room) + " (members: " + m.members.map(visible).join(", ") + ")");
        renderRooms();
        break;
      case "chat.LeaveReply":
        state.rooms.delete(m.room);
        addMessage("event", m.room, { nick: state.nick }, "* left " + visible(m.room));
        if (state.current === m.room) selectRoom(state.rooms.keys().next().value || "");
        renderRooms();
        break;
      case "chat.RoomEvent": {
        const members = state.rooms.get(m.room);
        if (members) {
          if (m.kind === "KIND_JOINED") members.add(m.nickname);
          else if (m.kind === "KIND_LEFT") members.delete(m.nickname);
        }
        const verb = m.kind === "KIND_JOINED" ? "joined" : m.kind === "KIND_LEFT" ? "left" : m.kind;
        addMessage("event", m.room, { nick: m.nickname, event: m.kind }, "* " + visible(m.nickname) + " " + verb);
        renderRooms();
        break;
      }
      case "chat.ChatDelivery":
        addMessage("chat", m.room, { sender: m.sender, seq: m.seq, latencyUs: m.sent_at_us ? nowUs() - m.sent_at_us : "" },
          "[" + visible(m.room) + "] <" + visible(m.sender) + "> " + visible(m.text));
        break;
      case "chat.WhisperDelivery":
        addMessage("whisper", "", { sender: m.sender, seq: m.seq },
          "<" + visible(m.sender) + " whispers> " + visible(m.text));
        break;
      case "chat.WhisperReply":
        addMessage("whisper-sent", "", { to: m.to },
          "<to " + visible(m.to) + "> " + visible(req && req.text !== undefined ? req.text : ""));
        break;
      case "chat.Error":
        onError(m, req);
        break;
      default:
        showError("CLIENT_PROTOCOL", "unexpected " + name + " from the server");
    }
  }

  function onError(m, req) {
    const reqName = req ? req.name : (state.types.get(m.request_msg_id) || { fullName: "." }).fullName.slice(1);
    showError(m.code, m.detail, reqName);
    if (!req) return;
    if (req.name === "chat.JoinRequest") {
      // A join the server refused is not re-tried after a reconnect.
      state.wantRooms.delete(req.room);
    } else if (req.name === "chat.LoginRequest" && req.relogin && m.code === "ERROR_NICK_TAKEN"
               && ++state.reloginTries <= 6) {
      // After a drop the server may not have closed the old session yet, so its nickname is
      // still taken. Try again after the back-off (about half a minute in all) rather than make
      // the user type it again.
      const ws = state.ws;
      state.ws = null;
      if (ws) ws.close();
      scheduleReconnect("nickname still held by the old session");
    } else if (req.name === "chat.LoginRequest") {
      state.wantOnline = false;
      state.wantRooms.clear();
    }
  }

  // ---- Rendering.
  function renderRoomList(m, append) {
    const ul = $("rooms");
    if (!append) ul.replaceChildren();
    for (const r of m.rooms) {
      const li = document.createElement("li");
      li.dataset.room = r.name;
      li.dataset.members = String(r.members);
      li.textContent = visible(r.name) + " (" + r.members + ")";
      li.addEventListener("click", () => { $("room-name").value = r.name; });
      ul.appendChild(li);
    }
    state.roomListNext = m.next;
    ul.dataset.next = m.next;
    $("rooms-more").disabled = m.next === "";
  }

  function selectRoom(room) {
    state.current = room;
    const cr = $("current-room");
    cr.dataset.room = room;
    cr.textContent = visible(room);
    for (const el of $("messages").children) el.hidden = el.dataset.room !== "" && el.dataset.room !== room;
    $("leave-room").disabled = room === "";
    renderRooms();
  }

  function renderRooms() {
    const joined = $("joined");
    joined.replaceChildren();
    for (const room of state.rooms.keys()) {
      const li = document.createElement("li");
      li.dataset.room = room;
      li.className = room === state.current ? "current" : "";
      const name = document.createElement("button");
      name.type = "button";
      name.className = "select";
      name.textContent = visible(room);
      name.addEventListener("click", () => selectRoom(room));
      const leaveBtn = document.createElement("button");
      leaveBtn.type = "button";
      leaveBtn.className = "leave";
      leaveBtn.dataset.room = room;
      leaveBtn.textContent = "leave";
      leaveBtn.addEventListener("click", () => leave(room));
      li.append(name, " ", leaveBtn);
      joined.appendChild(li);
    }
    const members = $("members");
    members.replaceChildren();
    for (const nick of [...(state.rooms.get(state.current) || [])].sort()) {
      const li = document.createElement("li");
      li.dataset.nick = nick;
      li.textContent = visible(nick);
      members.appendChild(li);
    }
  }

  // ---- Wiring.
  function wire() {
    $("login-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const nick = $("nick").value;
      if (state.loggedIn) {
        showError("CLIENT_ALREADY_LOGGED_IN", "already logged in as " + state.nick);
        return;
      }
      state.wantOnline = true;
      state.nick = nick;
      if (state.ws && state.ws.readyState === WebSocket.OPEN) login(nick, false);
      else if (!state.ws) connect(); // waiting out a back-off: try now; onopen logs in
      // Otherwise the connection is being made, and its onopen logs in.
    });
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      join($("room-name").value);
    });
    $("leave-room").addEventListener("click", () => { if (state.current) leave(state.current); });
    $("rooms-refresh").addEventListener("click", () => roomList(""));
    $("rooms-more").addEventListener("click", () => { if (state.roomListNext) roomList(state.roomListNext); });
    $("chat-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const input = $("chat-input");
      if (input.value === "") return;
      say(input.value);
      input.value = "";
    });
    $("whisper-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const text = $("whisper-text");
      whisper($("whisper-to").value, text.value);
      text.value = "";
    });
  }

  async function start() {
    try {
      if (typeof protobuf === "undefined") throw new Error("protobuf.min.js did not load");
      const res = await fetch("chat.proto");
      if (!res.ok) throw new Error("chat.proto: HTTP " + res.status);
      // keepCase: fields keep the names chat.proto gives them (request_id, sent_at_us).
      const root = protobuf.parse(await res.text(), { keepCase: true }).root.resolveAll();
      state.root = root;
      const walk = (ns) => {
        for (const t of ns.nestedArray) {
          if (t instanceof protobuf.Type) {
            const name = t.fullName.slice(1);
            const id = fnv1a32(name);
            if (state.types.has(id)) throw new Error("message id collision: " + name);
            state.types.set(id, t);
            state.ids.set(name, id);
          }
          if (t.nestedArray) walk(t);
        }
      };
      walk(root);
    } catch (e) {
      setStatus("failed", "cannot start: " + e.message);
      console.error("gs-chat: " + e.message);
      return;
    }
    wire();
    document.body.dataset.ready = "1";
    connect();
  }

  // For tests: the parsed protocol and the frame codec, so a test can compare bytes.
  window.gsChat = {
    state,
    fnv1a32,
    encodeFrameHex: (name, fields) =>
      Array.from(encodeFrame(name, fields), (b) => b.toString(16).padStart(2, "0")).join(""),
  };

  start();
})();
