// GraphQL for the dashboard: queries and mutations over HTTP POST, subscriptions over one
// WebSocket speaking graphql-transport-ws, reconnecting with backoff while the session lives.

/** A GraphQL error with its `extensions.code`; `message` is the server's plain sentence. */
export class GraphQLError extends Error {
  constructor(message, code) {
    super(message);
    this.name = "GraphQLError";
    this.code = code || "ERROR";
  }
}

export async function request(query, variables = {}, token = null) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GraphQLError("Cannot reach the server. Check that it is running and try again.", "NETWORK");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLError(`The server answered ${response.status} without a GraphQL result.`, "NETWORK");
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    throw new GraphQLError(first.message, first.extensions && first.extensions.code);
  }
  return body.data;
}

// Close codes after which reconnecting cannot help: the session is gone or was refused.
const SESSION_ENDED = new Set([4401, 4403]);
// The server does not ping on graphql-transport-ws: the client does, and a connection that
// leaves a ping (or connection_init) unanswered for this long is dropped and replaced.
const HEARTBEAT_MS = 15000;

/**
 * One graphql-transport-ws connection carrying every subscription of the page.
 * status: "connecting" | "live" | "reconnecting" | "closed"; subscriptions survive reconnects
 * (each is sent again, and its `restarted` callback lets the screen re-read what it missed).
 */
export class LiveClient {
  constructor({ url, token, onStatus = () => {}, onSessionEnded = () => {} }) {
    this.url = url;
    this.token = token;
    this.onStatus = onStatus;
    this.onSessionEnded = onSessionEnded;
    this.subscriptions = new Map();
    this.nextId = 1;
    this.ws = null;
    this.acknowledged = false;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.status = "connecting";
    this.connect();
  }

  setStatus(status) {
    this.status = status;
    this.onStatus(status);
  }

  connect() {
    this.acknowledged = false;
    const ws = new WebSocket(this.url, "graphql-transport-ws");
    this.ws = ws;
    ws.onopen = () => {
      sendJson(ws, { type: "connection_init", payload: { authorization: `Bearer ${this.token}` } });
      this.watch(ws);
    };
    ws.onmessage = (event) => this.receive(ws, JSON.parse(event.data));
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (this.stopped) return;
      if (SESSION_ENDED.has(event.code)) {
        this.stop();
        this.onSessionEnded(event.code);
        return;
      }
      this.scheduleReconnect();
    };
  }

  /** Ping every HEARTBEAT_MS; a silent connection (no ack, no pong) is abandoned. */
  watch(ws) {
    clearInterval(this.heartbeat);
    this.answered = true;
    this.heartbeat = setInterval(() => {
      if (ws !== this.ws) {
        clearInterval(this.heartbeat);
        return;
      }
      if (!this.answered || !this.acknowledged) {
        this.abandon(ws);
        return;
      }
      this.answered = false;
      sendJson(ws, { type: "ping" });
    }, HEARTBEAT_MS);
  }

  abandon(ws) {
    clearInterval(this.heartbeat);
    ws.onclose = null;
    this.ws = null;
    ws.close();
    this.scheduleReconnect();
  }

  scheduleReconnect() {
    this.setStatus("reconnecting");
    // Exponential backoff with jitter, so a restarted server is not hit by every page at once.
    const base = Math.min(10000, 500 * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(ws, message) {
    switch (message.type) {
      case "connection_ack": {
        const reconnected = this.attempt > 0;
        this.acknowledged = true;
        this.attempt = 0;
        this.setStatus("live");
        for (const [id, sub] of this.subscriptions) {
          this.send(ws, id, sub);
          if (reconnected) sub.sink.restarted();
        }
        break;
      }
      case "ping":
        sendJson(ws, { type: "pong" });
        break;
      case "pong":
        this.answered = true;
        break;
      case "next": {
        const sub = this.subscriptions.get(message.id);
        if (!sub) break;
        const errors = message.payload.errors;
        if (errors && errors.length) sub.sink.error(new GraphQLError(errors[0].message, errors[0].extensions && errors[0].extensions.code));
        else sub.sink.next(message.payload.data);
        break;
      }
      case "error": {
        const sub = this.subscriptions.get(message.id);
        if (!sub) break;
        this.subscriptions.delete(message.id);
        const first = (message.payload && message.payload[0]) || { message: "The subscription failed." };
        sub.sink.error(new GraphQLError(first.message, first.extensions && first.extensions.code));
        break;
      }
      case "complete":
        this.subscriptions.delete(message.id);
        break;
      default:
        break;
    }
  }

  send(ws, id, sub) {
    sendJson(ws, { id, type: "subscribe", payload: { query: sub.query, variables: sub.variables } });
  }

  /** Subscribe; `sink` has next(data), error(err), restarted(). Returns the unsubscribe function. */
  subscribe(query, variables, sink) {
    const id = String(this.nextId++);
    const sub = {
      query,
      variables: variables || {},
      sink: { next() {}, error() {}, restarted() {}, ...sink },
    };
    this.subscriptions.set(id, sub);
    if (this.ws && this.acknowledged) this.send(this.ws, id, sub);
    return () => {
      if (!this.subscriptions.delete(id)) return;
      if (this.ws && this.acknowledged) sendJson(this.ws, { id, type: "complete" });
    };
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.heartbeat);
    this.subscriptions.clear();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, "Logged out");
    }
    this.setStatus("closed");
  }
}

// A socket the server is closing takes no more messages; its onclose handler takes over.
function sendJson(ws, message) {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

export function websocketUrl(location = window.location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/graphql`;
}
